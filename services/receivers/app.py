"""Wiring of the receivers: the two endpoints ConnectWise and Xero POST to, and health.

This is the one part of Connect Zero a reverse proxy exposes to the internet, so it
holds no API credentials and reads no database: it checks who is calling (the
secret in the callback URL; Xero's signature), reads which record changed, queues
that on Kafka and answers. Ingest and xero_status do the work.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from ..common.codec import Codec
from ..common.health import HealthChecks, kafka_check
from ..common.http_app import add_health_routes
from ..common.receiver_urls import CW_CALLBACK_PREFIX, XERO_WEBHOOK_PATH
from ..common.secrets import callback_secret
from ..common.settings import Settings
from ..common.topics import CW_CALLBACKS, XERO_WEBHOOKS
from .parse import BadPayload, callback_hint, webhook_events
from .queue import HintQueue, QueueUnavailable
from .signature import same_secret, verified

log = logging.getLogger(__name__)
MAX_BODY = 2 * 1024 * 1024  # a ConnectWise callback carries its whole record; nothing honest is bigger
REQUESTS = Counter("cz_receiver_requests_total", "Callbacks and webhooks received, by outcome", ["receiver", "outcome"])
HINTS = Counter("cz_receiver_hints_total", "Changed records queued for a fetch", ["receiver"])


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _body(request: Request) -> bytes | None:
    """The raw body (Xero signs its exact bytes), or None when it is too big to be honest."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        return None
    body = await request.body()
    return None if len(body) > MAX_BODY else body


def _answer(receiver: str, outcome: str, status: int, detail: dict | None = None) -> Response:
    REQUESTS.labels(receiver=receiver, outcome=outcome).inc()
    return JSONResponse(detail or {}, status_code=status)


def create_app(settings: Settings, queue: HintQueue | None = None) -> FastAPI:
    secret = callback_secret(settings)
    webhook_key = settings.xero_webhook_key
    queue = queue or HintQueue(settings.kafka_bootstrap, Codec.from_directory())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        queue.close()

    app = FastAPI(
        title="Connect Zero receivers", version="1", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    add_health_routes(app, HealthChecks({"kafka": kafka_check(settings.kafka_bootstrap)}))
    if not webhook_key:
        log.warning("CZ_XERO_WEBHOOK_KEY is not set: every Xero webhook is refused")

    @app.post(CW_CALLBACK_PREFIX + "{given}")
    async def connectwise_callback(given: str, request: Request) -> Response:
        if not same_secret(secret, given):
            # The path is never logged: it is the secret, or someone's guess at it.
            log.warning(
                "ConnectWise callback refused: wrong secret (from %s)", request.client.host if request.client else "?"
            )
            return _answer("connectwise", "refused", 401, {"detail": "unknown callback URL"})
        body = await _body(request)
        if body is None:
            return _answer("connectwise", "bad_request", 413, {"detail": "body: too large"})
        try:
            hint = callback_hint(body, _now())
        except BadPayload as exc:
            return _answer("connectwise", "bad_request", 400, {"detail": str(exc), "field": exc.field})
        if hint is None:
            return _answer("connectwise", "ignored", 200, {"queued": 0})
        try:
            await asyncio.to_thread(queue.put, CW_CALLBACKS, [(f"{hint['cw_type']}:{hint['cw_id']}", hint)])
        except QueueUnavailable as exc:
            log.error("ConnectWise callback not queued (the next cycle finds the change): %s", exc)
            return _answer("connectwise", "unavailable", 503, {"detail": "not queued; try again"})
        HINTS.labels(receiver="connectwise").inc()
        return _answer("connectwise", "queued", 200, {"queued": 1})

    @app.post(XERO_WEBHOOK_PATH)
    async def xero_webhook(request: Request) -> Response:
        body = await _body(request)
        if body is None or not verified(webhook_key, body, request.headers.get("x-xero-signature")):
            # Xero expects an empty 401 for a bad signature (its intent-to-receive check sends one).
            REQUESTS.labels(receiver="xero", outcome="refused").inc()
            return Response(status_code=401)
        try:
            events = webhook_events(body, _now())
        except BadPayload as exc:
            return _answer("xero", "bad_request", 400, {"detail": str(exc), "field": exc.field})
        try:
            await asyncio.to_thread(
                queue.put, XERO_WEBHOOKS, [(f"{e['tenant_id']}:{e['resource_id']}", e) for e in events]
            )
        except QueueUnavailable as exc:
            log.error("Xero webhook not queued (Xero sends it again): %s", exc)
            return _answer("xero", "unavailable", 503)
        HINTS.labels(receiver="xero").inc(len(events))
        # Xero reads only the status; an empty body is what it documents.
        REQUESTS.labels(receiver="xero", outcome="queued" if events else "handshake").inc()
        return Response(status_code=200)

    return app
