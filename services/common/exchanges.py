"""Every HTTP exchange with ConnectWise or Xero, published to `api.exchanges.v1`
(secrets redacted) for the audit log.

Clients attach it as httpx event hooks; a caller tags a request with what it is
about through `request.extensions["cz"]` = {organisation_id, record_type,
record_id, customer}, which lands in the audit entry's filter columns.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timezone

import httpx

from .codec import Codec
from .metrics import API_CALLS, API_LATENCY
from .redact import redact_body, redact_headers
from .topics import API_EXCHANGES

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # a bigger body is cut: the audit log is for reading, not archiving


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_BODY:
        return text
    return text[:MAX_BODY] + f"... [{len(text) - MAX_BODY} more characters]"


def exchange_record(
    api: str,
    service: str,
    request: httpx.Request,
    response: httpx.Response | None,
    started_at: datetime,
    duration_ms: float,
    error: str | None = None,
) -> dict:
    tags = request.extensions.get("cz", {})
    return {
        "exchange_id": str(uuid.uuid4()),
        "api": api,
        "service": service,
        "organisation_id": tags.get("organisation_id"),
        "record_type": tags.get("record_type"),
        "record_id": None if tags.get("record_id") is None else str(tags["record_id"]),
        "customer": tags.get("customer"),
        "method": request.method,
        "url": str(request.url),
        "status": response.status_code if response is not None else 0,
        "duration_ms": float(duration_ms),
        "request_headers": redact_headers(request.headers),
        "request_body": _cut(redact_body(request.content or None)),
        "response_headers": redact_headers(response.headers) if response is not None else {},
        "response_body": _cut(redact_body(response.content)) if response is not None else None,
        "error": error,
        "started_at": started_at,
    }


class ExchangeRecorder:
    """Publishes exchanges; with no producer (unit tests, scripts) it only counts them."""

    def __init__(self, api: str, service: str, codec: Codec | None = None, producer=None):
        self.api, self.service, self.codec, self.producer = api, service, codec, producer

    def publish(self, record: dict) -> None:
        organisation = (record["organisation_id"] or "") if self.api == "xero" else ""
        API_CALLS.labels(api=self.api, status=str(record["status"]), organisation=organisation).inc()
        API_LATENCY.labels(api=self.api).observe(record["duration_ms"] / 1000)
        if self.producer is None or self.codec is None:
            return
        self.producer.produce(
            API_EXCHANGES.name, key=self.api.encode(), value=self.codec.encode("api_exchange", record)
        )
        self.producer.poll(0)

    def hooks(self) -> dict:
        """httpx event hooks (sync clients) that time and publish each exchange."""

        def on_request(request: httpx.Request) -> None:
            request.extensions["cz_started"] = (datetime.now(timezone.utc), time.perf_counter())

        def on_response(response: httpx.Response) -> None:
            response.read()
            started_at, t0 = response.request.extensions.get(
                "cz_started", (datetime.now(timezone.utc), time.perf_counter())
            )
            self.publish(
                exchange_record(
                    self.api, self.service, response.request, response, started_at, (time.perf_counter() - t0) * 1000
                )
            )

        return {"request": [on_request], "response": [on_response]}

    def record_failure(self, request: httpx.Request, error: BaseException) -> None:
        """For a request that got no response at all (connection refused, timeout)."""
        started_at, t0 = request.extensions.get("cz_started", (datetime.now(timezone.utc), time.perf_counter()))
        self.publish(
            exchange_record(
                self.api,
                self.service,
                request,
                None,
                started_at,
                (time.perf_counter() - t0) * 1000,
                error=f"{type(error).__name__}: {error}",
            )
        )
