"""The Xero Accounting API client: tokens, pacing, retries, and every exchange
recorded for the audit log.

- Tokens come from `auth.TokenManager` (refreshed before expiry, rotation
  persisted first); a 401 drops the access token and tries once more.
- Every call passes through a `PacerGate` around `services.integrations.xero.pacing.Pacer`
  (5 concurrent, 60/min, 5,000/day per organisation, 10,000/min per app), which
  reads Xero's remaining-limit headers from every answer and honours 429's
  Retry-After and X-Rate-Limit-Problem.
- 5xx answers and transport errors are retried with exponential backoff
  (tenacity). Writes carry an `Idempotency-Key`, kept the same across retries,
  so a retry of a call Xero already acted on returns the first answer.
- Requests are tagged (organisation, record type, record ids) for the audit log
  through `ExchangeRecorder`'s httpx hooks.
"""

from __future__ import annotations

import json
import re
import logging
import threading
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Mapping

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from .pacing import Limits, Pacer
from ...common.exchanges import ExchangeRecorder
from ...common.natural_key import NaturalKey
from .auth import CredentialError, TokenEndpointUnavailable, TokenManager

log = logging.getLogger(__name__)
__all__ = ["XeroClient", "XeroOrg", "PacerGate", "XeroUnavailable", "XeroRequestError", "CredentialError"]
FILTER_CHARS = 4000  # a filtered read's query, encoded: well inside what Xero and proxies take in a URL


@dataclass(frozen=True)
class XeroOrg:
    organisation_id: str
    tenant_id: str


class XeroUnavailable(Exception):
    """Xero kept failing (5xx, transport errors, 429s) past every retry."""

    transient = True  # an outage, in the consumers' error policy


class XeroRequestError(Exception):
    """Xero refused the request as a whole (a 4xx other than 401/429)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"Xero answered {status}: {message}")
        self.status, self.message = status, message


class _Retry(Exception):
    """A failure worth another attempt."""


class PacerGate:
    """Makes callers wait (in threads) until the pacer lets their call go."""

    def __init__(self, pacer: Pacer | None = None, clock: Callable[[], float] = time.monotonic):
        self.pacer = pacer or Pacer(Limits())
        self.clock = clock
        self._cond = threading.Condition()

    def acquire(self, org_id: str) -> float:
        """Blocks until the call may go; returns when it started (pass it to `release`)."""
        with self._cond:
            while True:
                now = self.clock()
                wait = self.pacer.wait(org_id, now)
                if wait.ready:
                    self.pacer.start(org_id, now)
                    return now
                # Woken early when a call finishes (it may free a concurrency slot).
                self._cond.wait(min(wait.seconds, 5.0))

    def seed_day_usage(self, org_id: str, calls: int) -> None:
        with self._cond:
            self.pacer.seed_day_usage(org_id, calls, self.clock())

    def release(self, org_id: str, status: int | None, headers, started: float | None = None) -> None:
        with self._cond:
            self.pacer.finish(org_id, self.clock(), status, headers, started)
            self._cond.notify_all()


class XeroClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenManager,
        gate: PacerGate | None = None,
        recorder: ExchangeRecorder | None = None,
        http: httpx.Client | None = None,
        max_attempts: int = 8,
        max_rate_limited: int = 60,
        backoff_max: float = 20.0,
        on_call: Callable[[str], None] | None = None,
        timeout: float = 30.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.gate = gate or PacerGate()
        self.recorder = recorder
        self.http = http or httpx.Client(timeout=timeout, event_hooks=recorder.hooks() if recorder else None)
        self.max_attempts, self.max_rate_limited, self.backoff_max = max_attempts, max_rate_limited, backoff_max
        self.on_call = on_call

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        org: XeroOrg,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json=None,
        idempotency_key: str | None = None,
        tags: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One logical call, retried through transient failures; returns any answer below 500
        other than 401/429 (the caller judges 4xx). Raises XeroUnavailable after the retries,
        CredentialError when the credential is revoked."""
        rate_limited = 0
        retrying = Retrying(
            retry=retry_if_exception_type(_Retry),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential_jitter(multiplier=0.2, jitter=0.5, max=self.backoff_max),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    while True:
                        resp = self._send_once(org, method, path, params, json, idempotency_key, tags, headers)
                        if resp is not None and resp.status_code == 429:
                            # Honoured by the pacer (it blocks until Retry-After); not a backoff attempt.
                            rate_limited += 1
                            if rate_limited > self.max_rate_limited:
                                raise XeroUnavailable(
                                    f"{method} {path}: still rate limited after {rate_limited} answers of 429"
                                )
                            continue
                        break
                    if resp is None:
                        raise _Retry("no response (transport error)")
                    if resp.status_code >= 500:
                        raise _Retry(f"HTTP {resp.status_code}")
                    if resp.status_code == 401:
                        self.tokens.invalidate(org.organisation_id)
                        raise _Retry("HTTP 401: access token refused")
                    if resp.status_code == 403:
                        # The connection no longer reaches this organisation: only reconnecting helps.
                        raise CredentialError(
                            org.organisation_id,
                            f"Xero answered 403: the connection does not reach tenant {org.tenant_id}",
                        )
                    return resp
        except _Retry as exc:
            raise XeroUnavailable(f"{method} {path}: gave up after {self.max_attempts} attempts ({exc})") from None
        raise AssertionError("unreachable")

    def _send_once(
        self,
        org: XeroOrg,
        method: str,
        path: str,
        params,
        json,
        idempotency_key,
        tags,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        try:
            token = self.tokens.access_token(org.organisation_id)
        except TokenEndpointUnavailable as exc:
            raise _Retry(f"token endpoint: {exc}") from exc
        headers = {
            **(extra_headers or {}),
            "Authorization": f"Bearer {token}",
            "xero-tenant-id": org.tenant_id,
            "Accept": "application/json",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        request = self.http.build_request(
            method,
            f"{self.base_url}/{path.lstrip('/')}",
            params=params,
            json=json,
            headers=headers,
            extensions={"cz": {"organisation_id": org.organisation_id, **(tags or {})}},
        )
        started = self.gate.acquire(org.organisation_id)
        status: int | None = None
        resp_headers: Mapping[str, str] = {}
        try:
            if self.on_call:
                self.on_call(org.organisation_id)
            resp = self.http.send(request)
            status, resp_headers = resp.status_code, resp.headers
            if status == 429 or status >= 500:
                log.info(
                    "Xero answered %s to %s %s for %s (Retry-After %s, problem %s)",
                    status,
                    method,
                    path,
                    org.organisation_id,
                    resp.headers.get("Retry-After"),
                    resp.headers.get("X-Rate-Limit-Problem"),
                )
            return resp
        except httpx.TransportError as exc:
            if self.recorder:
                self.recorder.record_failure(request, exc)
            return None
        finally:
            self.gate.release(org.organisation_id, status, resp_headers, started)

    # -- Record helpers ------------------------------------------------------------------------

    def write(
        self,
        org: XeroOrg,
        endpoint: str,
        method: str,
        elements: list[dict],
        idempotency_key: str,
        tags: dict | None = None,
        collection: str | None = None,
    ) -> list[dict]:
        """PUT (create) or POST (create or update) a batch with summarizeErrors=false; returns
        Xero's elements in the order sent, each with its StatusAttributeString. `collection`
        names the list in the body when it is not the endpoint (`CreditNotes/{id}/Allocations`)."""
        collection = collection or endpoint
        resp = self.request(
            org,
            method,
            endpoint,
            params={"summarizeErrors": "false"},
            json={collection: elements},
            idempotency_key=idempotency_key,
            tags=tags,
        )
        body = _json(resp)
        if resp.status_code != 200:
            raise XeroRequestError(resp.status_code, _message(body, resp))
        returned = body.get(collection)
        if not isinstance(returned, list) or len(returned) != len(elements):
            raise XeroRequestError(
                resp.status_code,
                f"expected {len(elements)} {endpoint} back, got "
                f"{len(returned) if isinstance(returned, list) else 'none'}",
            )
        return returned

    def find_by_numbers(self, org: XeroOrg, endpoint: str, numbers: list[str], tags: dict | None = None) -> list[dict]:
        """Invoices by InvoiceNumbers, credit notes by CreditNoteNumber (through `where`): as many numbers
        a call as keep its query within FILTER_CHARS, so a batch of 50 usual numbers costs one call."""

        def params(chunk: list[str]) -> dict[str, str]:
            if endpoint == "Invoices":
                return {"InvoiceNumbers": ",".join(chunk), "pageSize": "1000"}
            return {"where": " OR ".join(f'CreditNoteNumber=="{_quote(n)}"' for n in chunk), "pageSize": "1000"}

        found: list[dict] = []
        chunk: list[str] = []
        for number in numbers:
            if chunk and len(str(httpx.QueryParams(params([*chunk, number])))) > FILTER_CHARS:
                found += self._get_all(org, endpoint, params(chunk), tags)
                chunk = []
            chunk.append(number)
        if chunk:
            found += self._get_all(org, endpoint, params(chunk), tags)
        return found

    def find_bill(self, org: XeroOrg, key: NaturalKey, tags: dict | None = None) -> list[dict]:
        """Bills, whose numbers Xero does not keep unique: by the contact, number and date of a bill's key."""
        if key.date is None:
            raise ValueError(f"natural_key: {key} is not a bill's key")
        y, m, d = (int(p) for p in key.date.split("-"))
        if key.contact_id is not None:
            contact = f'Contact.ContactID==guid("{_quote(key.contact_id)}")'
        else:
            contact = f'Contact.Name=="{_quote(key.contact_name or "")}"'
        number = f'InvoiceNumber=="{_quote(key.number)}"'
        where = f'Type=="ACCPAY" AND {contact} AND {number} AND Date==DateTime({y},{m:02d},{d:02d})'
        return self._get_all(org, "Invoices", {"where": where}, tags)

    def delete_payment(self, org: XeroOrg, payment_id: str, idempotency_key: str, tags: dict | None = None) -> dict:
        """Xero deletes a payment (it is never edited) by POSTing its Status DELETED; returns it."""
        resp = self.request(
            org,
            "POST",
            f"Payments/{payment_id}",
            json={"Status": "DELETED"},
            idempotency_key=idempotency_key,
            tags=tags,
        )
        return self._one(resp, "Payments")

    def delete_allocation(
        self, org: XeroOrg, credit_note_id: str, allocation_id: str, tags: dict | None = None
    ) -> dict:
        resp = self.request(org, "DELETE", f"CreditNotes/{credit_note_id}/Allocations/{allocation_id}", tags=tags)
        body = _json(resp)
        if resp.status_code not in (200, 204):
            raise XeroRequestError(resp.status_code, _message(body, resp))
        return body

    def get_one(self, org: XeroOrg, endpoint: str, xero_id: str, tags: dict | None = None) -> dict | None:
        """One document or payment by its id; None when Xero has none."""
        resp = self.request(org, "GET", f"{endpoint}/{xero_id}", tags=tags)
        if resp.status_code == 404:
            return None
        return self._one(resp, endpoint)

    def find_payments_by_reference(self, org: XeroOrg, references: list[str], tags: dict | None = None) -> list[dict]:
        found: list[dict] = []
        for i in range(0, len(references), 10):  # keeps the URL short
            where = " OR ".join(f'Reference=="{_quote(r)}"' for r in references[i : i + 10])
            found += self._get_all(org, "Payments", {"where": where}, tags)
        return found

    @staticmethod
    def _one(resp: httpx.Response, collection: str) -> dict:
        body = _json(resp)
        items = body.get(collection)
        if resp.status_code != 200 or not isinstance(items, list) or not items:
            raise XeroRequestError(resp.status_code, _message(body, resp))
        return items[0]

    def _get_all(self, org: XeroOrg, endpoint: str, params: dict, tags: dict | None) -> list[dict]:
        items: list[dict] = []
        page = 1
        while True:
            resp = self.request(org, "GET", endpoint, params={**params, "page": str(page)}, tags=tags)
            body = _json(resp)
            if resp.status_code != 200:
                raise XeroRequestError(resp.status_code, _message(body, resp))
            batch = body.get(endpoint) or []
            items += batch
            pagination = body.get("pagination") or {}
            if not batch or page >= int(pagination.get("pageCount") or page):
                return items
            page += 1


_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def xero_date(value: object) -> str | None:
    """A date Xero sent, as YYYY-MM-DD: its `/Date(ms+zone)/` form or an ISO string."""
    text = str(value or "")
    found = _MS_DATE.fullmatch(text)
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, timezone.utc).date().isoformat()
    return text[:10] or None


def _quote(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def _json(resp: httpx.Response) -> dict:
    try:
        body = json.loads(resp.content, parse_float=Decimal)  # money stays Decimal
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict, resp: httpx.Response) -> str:
    messages = [e.get("Message") for el in body.get("Elements") or [] for e in el.get("ValidationErrors") or []]
    return "; ".join(m for m in messages if m) or body.get("Message") or body.get("Detail") or resp.text[:300]
