"""ConnectWise Manage REST client (httpx, synchronous).

Basic auth `company+public:private` and the `clientId` header on every call;
forward-only paging that follows the `Link` header (pageSize up to 1000);
429 answers wait for `Retry-After`, 5xx answers and transport errors are
retried with exponential backoff (tenacity; for POST and PATCH only when the
caller says a repeat is safe); every exchange is published for
the audit log through `ExchangeRecorder` hooks. A call that still fails raises
`CwApiError` naming the status and ConnectWise's error body.

Decimal parsing: JSON numbers are parsed as `Decimal` so money never passes
through float.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Iterator

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ...common.exchanges import ExchangeRecorder

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ACCEPT = "application/vnd.connectwise.com+json; version=2025.1"


class CwApiError(Exception):
    """A ConnectWise call that failed for good: status (0 when no answer came),
    CW's error code and message, and the per-field errors it listed."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        code: str | None = None,
        message: str | None = None,
        errors: list | None = None,
        body: str | None = None,
    ):
        self.method, self.url, self.status = method, url, status
        self.code, self.message, self.errors, self.body = code, message, errors or [], body
        detail = f"{code}: {message}" if code or message else (body or "no body")[:300]
        for err in self.errors[:5]:
            if isinstance(err, dict):
                detail += (
                    f"; {err.get('field') or err.get('resource') or ''} {err.get('code', '')}: {err.get('message', '')}"
                )
        what = f"HTTP {status}" if status else "no response"
        super().__init__(f"ConnectWise {method} {url} failed with {what}: {detail}")

    @property
    def transient(self) -> bool:
        """ConnectWise out of reach (no answer, 5xx, throttled past every retry): an outage in the
        consumers' error policy. A 4xx is about the request, and no wait will change it."""
        return self.status == 0 or self.status >= 500 or self.status == 429

    @classmethod
    def from_response(cls, response: httpx.Response) -> "CwApiError":
        code = message = None
        errors: list = []
        try:
            body = response.json()
            if isinstance(body, dict):
                code, message, errors = body.get("code"), body.get("message"), body.get("errors") or []
        except ValueError:
            pass
        return cls(
            response.request.method,
            str(response.request.url),
            response.status_code,
            code,
            message,
            errors,
            response.text,
        )


class _Retryable(Exception):
    """A transient failure: `error` is what to raise if the retries run out;
    `retry_after` is the server's requested wait in seconds, when it gave one."""

    def __init__(self, error: CwApiError, retry_after: float | None = None):
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


# --- conditions --------------------------------------------------------------


def literal(value: Any) -> str:
    """A value as the conditions language writes it: strings in double quotes,
    datetimes in square brackets (UTC, `Z`), booleans and numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("conditions: datetime values must be timezone-aware (UTC)")
        return "[" + value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + "]"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"conditions: cannot write a {type(value).__name__} value")


def cond(field: str, op: str, value: Any) -> str:
    if op.lower() not in {"=", "!=", "<", "<=", ">", ">=", "contains", "like", "not like", "not contains"}:
        raise ValueError(f"conditions: unknown operator {op!r}")
    return f"{field} {op} {literal(value)}"


def in_(field: str, values: Iterable[Any]) -> str:
    values = list(values)
    if not values:
        raise ValueError(f"conditions: {field} in () needs at least one value")
    return f"{field} in ({', '.join(literal(v) for v in values)})"


def _group(parts: Iterable[str | None], joiner: str) -> str:
    kept = [p for p in parts if p]
    if len(kept) == 1:
        return kept[0]
    return f" {joiner} ".join(f"({p})" for p in kept)


def all_of(*parts: str | None) -> str:
    """`(a) and (b)`; empty parts are dropped so optional filters compose."""
    return _group(parts, "and")


def any_of(*parts: str | None) -> str:
    return _group(parts, "or")


# --- the client --------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal) if response.content else None


class CwClient:
    def __init__(
        self,
        base_url: str,
        company: str,
        public_key: str,
        private_key: str,
        client_id: str,
        *,
        recorder: ExchangeRecorder | None = None,
        timeout: float = 30.0,
        attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_cap: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url:
            raise ValueError("cw_url: the ConnectWise base URL is empty")
        self.recorder = recorder
        self.attempts, self.backoff_initial, self.backoff_max = attempts, backoff_initial, backoff_max
        self.retry_after_cap = retry_after_cap
        # Full jitter: retries from several clients spread out instead of arriving together.
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=httpx.BasicAuth(f"{company}+{public_key}", private_key),
            headers={"clientId": client_id, "Accept": ACCEPT},
            timeout=timeout,
            event_hooks=recorder.hooks() if recorder else {},
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings, recorder: ExchangeRecorder | None = None, **kwargs) -> "CwClient":
        return cls(
            settings.cw_url,
            settings.cw_company,
            settings.cw_public_key,
            settings.cw_private_key,
            settings.cw_client_id,
            recorder=recorder,
            **kwargs,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "CwClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # One attempt: a transient failure becomes _Retryable, a permanent one CwApiError.
    # A POST or PATCH that may have reached the server (a 5xx, a cut-off answer) is
    # not repeated unless the caller says it is safe: it could apply a payment twice.
    # A 429 and a refused connection are always safe: the server did nothing.
    def _attempt(
        self,
        method: str,
        url: str,
        params: dict | None,
        json_body: Any,
        headers: dict | None,
        tags: dict | None,
        safe: bool,
    ) -> httpx.Response:
        request = self.http.build_request(
            method, url, params=params, json=json_body, headers=headers, extensions={"cz": tags or {}}
        )
        try:
            response = self.http.send(request)
        except httpx.TransportError as exc:
            if self.recorder:
                self.recorder.record_failure(request, exc)
            error = CwApiError(method, str(request.url), 0, message=f"{type(exc).__name__}: {exc}")
            if safe or isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise _Retryable(error) from exc
            raise error from exc
        if response.status_code == 429:
            raise _Retryable(
                CwApiError.from_response(response), retry_after_seconds(response.headers.get("Retry-After"))
            )
        if response.status_code >= 500:
            if not safe:
                raise CwApiError.from_response(response)
            raise _Retryable(CwApiError.from_response(response))
        if response.status_code >= 400:
            raise CwApiError.from_response(response)
        return response

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_cap)
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("ConnectWise call will be retried (attempt %d): %s", state.attempt_number, exc)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        headers: dict | None = None,
        tags: dict | None = None,
        retry_unsafe: bool = False,
    ) -> httpx.Response:
        """One call with retries; `url` is relative to the base URL or absolute (a Link).
        `retry_unsafe=True` lets a POST or PATCH be repeated after a 5xx or a lost
        answer (only when the caller can tell a repeat from a first attempt)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        safe = retry_unsafe or method.upper() in IDEMPOTENT
        try:
            return retrying(
                self._attempt,
                method,
                url.lstrip("/") if not url.startswith("http") else url,
                params,
                json_body,
                headers,
                tags,
                safe,
            )
        except _Retryable as exc:
            raise exc.error from None

    def get(self, path: str, params: dict | None = None, tags: dict | None = None) -> Any:
        return _json(self.request("GET", path, params=params, tags=tags))

    def pages(
        self,
        path: str,
        *,
        conditions: str | None = None,
        fields: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        params: dict | None = None,
        tags: dict | None = None,
    ) -> Iterator[list]:
        """Every page of a list endpoint, forward-only (ordered by id), following
        the `Link` rel=next URL until there is none."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size: must be 1 to {MAX_PAGE_SIZE}, got {page_size}")
        query = dict(params or {}, pageSize=page_size)
        if conditions:
            query["conditions"] = conditions
        if fields:
            query["fields"] = fields
        headers = {"pagination-type": "forward-only"}
        response = self.request("GET", path, params=query, headers=headers, tags=tags)
        while True:
            page = _json(response) or []
            if page:
                yield page
            next_url = response.links.get("next", {}).get("url")
            if not next_url or not page:
                return
            response = self.request("GET", next_url, headers=headers, tags=tags)

    def all(self, path: str, **kwargs) -> Iterator[dict]:
        for page in self.pages(path, **kwargs):
            yield from page

    def count(self, path: str, conditions: str | None = None) -> int:
        params = {"conditions": conditions} if conditions else None
        return int(self.get(f"{path.rstrip('/')}/count", params=params)["count"])

    # --- the records ingest reads ---------------------------------------------

    def invoice(self, invoice_id: int | str, record_type: str | None = None) -> dict:
        return self.get(
            f"finance/invoices/{int(invoice_id)}", tags={"record_type": record_type, "record_id": invoice_id}
        )

    def products_for_invoices(
        self,
        invoice_ids: Iterable[int],
        chunk: int = 200,
        record_type: str | None = None,
        customer: str | None = None,
        workers: int = 4,
    ) -> dict[int, list[dict]]:
        """Products (invoice lines) of many invoices in few calls, by invoice id;
        `invoice/id in (...)` in chunks keeps each URL short, and a few chunks are
        read at once (ConnectWise asks clients to keep concurrency small)."""
        ids = sorted({int(i) for i in invoice_ids})
        parts = [ids[start : start + chunk] for start in range(0, len(ids), chunk)]

        def read(part: list[int]) -> list[dict]:
            single = len(part) == 1
            tags = {
                "record_type": record_type,
                "record_id": part[0] if single else None,
                "customer": customer if single else None,
            }
            return list(self.all("procurement/products", conditions=in_("invoice/id", part), tags=tags))

        if len(parts) <= 1:
            found = [read(part) for part in parts]
        else:
            with ThreadPoolExecutor(min(workers, len(parts))) as pool:
                found = list(pool.map(read, parts))
        lines: dict[int, list[dict]] = {i: [] for i in ids}
        for products in found:
            for product in products:
                invoice_id = (product.get("invoice") or {}).get("id")
                if invoice_id is not None and int(invoice_id) in lines:
                    lines[int(invoice_id)].append(product)
        return lines

    def companies(self, company_ids: Iterable[int], fields: str | None = None, chunk: int = 200) -> dict[int, dict]:
        """Companies by id, in few calls."""
        ids = sorted({int(i) for i in company_ids})
        found: dict[int, dict] = {}
        for start in range(0, len(ids), chunk):
            for company in self.all(
                "company/companies", conditions=in_("id", ids[start : start + chunk]), fields=fields
            ):
                found[int(company["id"])] = company
        return found
