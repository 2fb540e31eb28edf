"""Audit log, exceptions and outbox routes of the admin API.

The audit log lives in chdb, which one process only may open, so these routes
proxy to the audit service over HTTP (the CSV export streams straight
through). Exceptions are read from Postgres, the outbox from the capture
mailbox's folder.
"""

from typing import Annotated, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from ..common import exceptions as exceptions_store
from ..common.links import links, pages
from ..common.audit_query import audit_filters
from ..common.record_kinds import RecordTypeName
from ..common.database import Database
from ..common.http_app import BIGINT_MAX, Principal, Responses, UserAuth, error, api_router
from ..common.secrets import admin_token
from ..common.settings import Settings
from ..common.outbox import read_messages
from .api_models import AuditEntry, AuditPage, DigestSent, ExceptionList, Outbox, SyncExceptionOut, ok
from .audit_client import AuditClient, AuditUnavailable, passthrough

Filters = Annotated[dict, Depends(audit_filters)]


def alerts_service_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.alerts_port}"


def _unreachable(name: str, url: str, exc: Exception) -> HTTPException:
    return HTTPException(
        503, detail=f"the {name} service at {url} is unreachable ({type(exc).__name__}); try again shortly"
    )


def audit_router(settings: Settings, db: Database, auth: UserAuth | None = None) -> APIRouter:
    from .users import user_auth

    auth = auth or user_auth(settings, db)
    upstream = {"Authorization": f"Bearer {admin_token(settings)}"}  # the services' own door
    audit = AuditClient(settings)
    router = api_router(auth)
    audit_down: Responses = {503: error("The audit service cannot be reached; try again shortly")}
    Operator = Annotated[Principal, Depends(auth.operator)]

    async def get(path: str, params: dict | None = None) -> Response:
        try:
            return passthrough(await audit.get(path, params))
        except AuditUnavailable as exc:
            raise HTTPException(503, detail=str(exc)) from None

    @router.get(
        "/audit",
        tags=["audit"],
        summary="Audit entries, newest first (cursor paging)",
        response_model=None,
        responses={**ok(AuditPage), **audit_down},
        description="Every API exchange and every event. Pass `next_cursor` back as `cursor` for the next page.",
    )
    async def audit_page(filters: Filters) -> Response:
        return await get("/audit", filters)

    @router.get(
        "/audit.csv",
        tags=["audit"],
        summary="CSV of every entry matching the filters (streamed)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {}}, "description": "The entries as CSV"}, **audit_down},
    )
    async def audit_csv(filters: Filters) -> Response:
        try:
            return await audit.csv(filters)
        except AuditUnavailable as exc:
            raise HTTPException(503, detail=str(exc)) from None

    @router.get(
        "/audit/{entry_id}",
        tags=["audit"],
        summary="One audit entry in full (request, response, payload)",
        response_model=None,
        responses={
            **ok(AuditEntry),
            **audit_down,
            404: error("No audit entry has this id (or it is past the retention)"),
        },
    )
    async def audit_entry(entry_id: Annotated[str, Path(max_length=200)]) -> Response:
        return await get(f"/audit/{quote(entry_id, safe='')}")

    @router.get(
        "/exceptions",
        tags=["exceptions"],
        response_model=None,
        responses=ok(ExceptionList),
        summary="Exceptions with their audit entry and force-sync links (`links`, API routes) and console pages"
        " (`pages`)",
    )
    def exceptions(
        request: Request,
        status: Annotated[
            Literal["open", "resolved", "all"], Query(description="open (default), resolved or all")
        ] = "open",
        record_type: Annotated[RecordTypeName | None, Query(description="Only this record type.")] = None,
        organisation: Annotated[str | None, Query(description="Only this organisation id.")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict:
        admin = str(request.base_url).rstrip("/")
        with db.connection() as conn:
            rows = exceptions_store.list_exceptions(
                conn, None if status == "all" else status, record_type, organisation, limit
            )
        items = [
            {**exceptions_store.as_json(row), "links": links(admin, row), "pages": pages(admin, row)} for row in rows
        ]
        return {"exceptions": items, "count": len(items)}

    @router.post(
        "/exceptions/{exception_id}/resolve",
        tags=["exceptions"],
        response_model=None,
        responses={**ok(SyncExceptionOut), 404: error("No open exception has this id")},
        summary="Mark an exception resolved (a new occurrence opens a new one)",
    )
    def resolve(request: Request, exception_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)], who: Operator) -> dict:
        with db.connection() as conn:
            row = exceptions_store.resolve(conn, exception_id, who.name)
        if row is None:
            raise HTTPException(404, detail=f"exception_id: no open exception {exception_id}")
        admin = str(request.base_url).rstrip("/")
        return {**exceptions_store.as_json(row), "links": links(admin, row), "pages": pages(admin, row)}

    @router.post(
        "/alerts/digest",
        tags=["exceptions"],
        summary="Send the exception digest now",
        response_model=None,
        responses={
            **ok(DigestSent),
            503: error(
                "The alerts service cannot be reached, or the SMTP server did "
                "not take the email (it is sent when the server is back)"
            ),
        },
    )
    async def send_digest(_who: Operator) -> Response:
        url = alerts_service_url(settings)
        async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as client:
            try:
                return passthrough(await client.post(f"{url}/digest/send", headers=upstream))
            except httpx.TransportError as exc:
                raise _unreachable("alerts", url, exc) from None

    @router.get(
        "/outbox",
        tags=["exceptions"],
        response_model=None,
        responses=ok(Outbox),
        summary="Emails captured by the embedded SMTP server, newest first",
    )
    def outbox(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
        messages = read_messages(settings.data_dir, limit)
        return {"messages": messages, "count": len(messages)}

    return router
