"""Audit log: the seed's filters (date range, record type, customer, status) plus
organisation, API and free text; paged newest first; an entry's full request and
response (secrets were redacted when it was captured); Export CSV of the view."""

import json
from datetime import timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from ...common.record_kinds import RECORD_TYPES
from ..audit_client import AuditUnavailable
from ..organisations_query import organisation_labels
from .context import Console
from .listing import FieldError, local_instant
from .session import Viewer

FILTERS = ("from", "to", "record_type", "customer", "organisation", "status", "api", "q")
PAGE_SIZE = "50"


def service_filters(request: Request) -> dict[str, str]:
    """The page's filters as the audit service takes them: times typed in the viewer's zone, in UTC."""
    params = request.query_params
    out = {name: params[name].strip() for name in FILTERS if params.get(name, "").strip()}
    for name in ("from", "to"):
        if name in out:
            moment = local_instant(request, name, out[name])
            if moment is not None:  # the text was not empty
                out[name] = moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return out


def _pretty(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except (ValueError, TypeError):
        return text


def audit_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]

    @router.get("/audit")
    async def audit(request: Request, _viewer: Reader, cursor: str = ""):
        shown = {name: request.query_params.get(name, "") for name in FILTERS}
        entries, next_cursor, error = [], None, None
        try:
            filters = service_filters(request)
            resp = await console.audit.page({**filters, "limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})})
            body = resp.json()
            if resp.status_code == 200:
                entries, next_cursor = body["entries"], body.get("next_cursor")
            else:  # the service names the bad filter
                error = body.get("detail") if isinstance(body.get("detail"), str) else str(body.get("detail"))
        except (FieldError, AuditUnavailable) as exc:
            error, filters = str(exc), {}
        with console.db.connection() as conn:
            orgs = organisation_labels(conn)
        query = request.url.query
        base = "&".join(p for p in query.split("&") if p and not p.startswith("cursor="))
        return console.render.page(
            request,
            "audit.html",
            entries=entries,
            error=error,
            shown=shown,
            orgs=orgs,
            next_url=f"/audit?{base}&cursor={next_cursor}" if next_cursor else None,
            first_url=f"/audit?{base}" if cursor else None,
            export_url=f"/audit/export.csv?{base}",
            record_types=RECORD_TYPES,
        )

    @router.get("/audit/export.csv")
    async def export(request: Request, _viewer: Reader) -> Response:
        try:
            return await console.audit.csv(service_filters(request))
        except FieldError as exc:
            raise HTTPException(422, str(exc)) from None
        except AuditUnavailable as exc:
            raise HTTPException(503, str(exc)) from None

    @router.get("/audit/{entry_id}")
    async def entry(request: Request, entry_id: str, _viewer: Reader):
        try:
            resp = await console.audit.entry(entry_id)
        except AuditUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        if resp.status_code == 404:
            raise HTTPException(404, f"entry_id: no audit entry {entry_id!r} (it may be older than the retention)")
        if resp.status_code != 200:
            raise HTTPException(502, f"the audit service answered {resp.status_code}")
        found = resp.json()
        bodies = {
            k: _pretty(found.get(k))
            for k in ("request_headers", "request_body", "response_headers", "response_body", "payload")
        }
        return console.render.page(request, "audit_entry.html", e=found, bodies=bodies)

    return router
