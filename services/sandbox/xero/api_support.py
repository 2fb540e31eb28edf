"""What every /api.xro/2.0 route shares: the caller's organisation, the
response envelope, list handling (filter, order, page, If-Modified-Since), the
batch error shape and writes through the Idempotency-Key store."""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from fastapi import Request, Response

from . import query
from .idempotency import MAX_KEY_LENGTH
from .serialize import dumps, parse_http_date
from .validation import VALIDATION_EXCEPTION

BASE = "/api.xro/2.0"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def error(status: int, number: int, type_: str, message: str) -> Response:
    return json_response({"ErrorNumber": number, "Type": type_, "Message": message}, status)


NOT_FOUND_BODY = {
    "ErrorNumber": 404,
    "Type": "NotFoundException",
    "Message": "The resource you're looking for cannot be found",
}


def not_found() -> Response:
    return json_response(NOT_FOUND_BODY, 404)


def _needs_rendering(text: str) -> bool:
    """Stored documents keep only Contact.ContactID (and payments no Invoice):
    filters on other nested fields need the rendered record."""
    text = text.replace("Contact.ContactID", "")
    return "Contact." in text or "Invoice." in text or "CreditNote." in text


class Api:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.state = runtime.state

    def snapshot(self, records: dict[str, dict]) -> list[dict]:
        """The records as a list, taken under the lock: the mutator thread may be
        adding to the same dict while a request reads it."""
        with self.state.lock:
            return list(records.values())

    def org(self, request: Request):
        return self.state.organisations[request.state.tenant]

    def envelope(self, key: str, items: list, pagination: dict | None = None) -> dict:
        body: dict[str, Any] = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "Connect Zero Sandbox",
            "DateTimeUTC": self.state.clock.now(),
        }
        if pagination is not None:
            body["pagination"] = pagination
        body[key] = items
        return body

    def listing(
        self,
        request: Request,
        key: str,
        records: list[dict],
        default_order: str,
        pageable: bool = True,
        show: Callable[[dict], dict] | None = None,
    ) -> Response:
        """Filter, order and page `records`; `show` renders the records of the
        page (every record first when the filter needs rendered fields)."""
        where_text = request.query_params.get("where", "") + request.query_params.get("order", "")
        if show is not None and _needs_rendering(where_text):
            records, show = [show(r) for r in records], None
        params = request.query_params
        try:
            since = request.headers.get("if-modified-since")
            records = query.modified_since(records, parse_http_date(since) if since else None)
            if params.get("where"):
                test = query.where(params["where"])
                records = [r for r in records if test(r)]
            records = query.order(list(records), params.get("order"), default_order)
            number = int(params["page"]) if pageable and params.get("page") else None
            size = int(params["pageSize"]) if params.get("pageSize") else None
        except (ValueError, TypeError) as exc:
            return error(400, 16, "QueryParseException", str(exc))
        items, pagination = query.page(records, number, size)
        if show is not None:
            items = [show(r) for r in items]
        return json_response(self.envelope(key, items, pagination))

    @staticmethod
    def csv(request: Request, name: str) -> set[str] | None:
        raw = request.query_params.get(name)
        return {part.strip().lower() for part in raw.split(",") if part.strip()} if raw else None

    async def write(self, request: Request, action: Callable[[Any], tuple[int, Any]]) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key")
        tenant = request.state.tenant
        if key is not None and len(key) > MAX_KEY_LENGTH:
            return error(400, 10, "ValidationException", "Idempotency-Key must be 128 characters or fewer.")
        fingerprint = self.runtime.idempotency.fingerprint(request.method, str(request.url), body)
        if key:
            remembered = self.runtime.idempotency.lookup(tenant, key, fingerprint)
            if remembered is not None:
                return Response(remembered.body, status_code=remembered.status, media_type="application/json")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return error(400, 14, "PostDataInvalidException", "The JSON body could not be parsed.")
        status, result = action(payload)
        response = json_response(result, status)
        if key:
            self.runtime.idempotency.remember(tenant, key, fingerprint, status, response.body)
        return response

    @staticmethod
    def summarize(request: Request) -> bool:
        return request.query_params.get("summarizeErrors", "true").lower() != "false"

    def batch_result(self, key: str, status: int, elements: list) -> tuple[int, dict]:
        if status == 400:
            return 400, {**VALIDATION_EXCEPTION, "Elements": elements}
        return 200, self.envelope(key, elements)

    @staticmethod
    def elements_of(payload: Any, key: str) -> list:
        if isinstance(payload, dict) and isinstance(payload.get(key), list):
            return payload[key]
        return [payload] if isinstance(payload, dict) and payload and key not in payload else []
