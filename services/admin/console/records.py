"""Records: search by number, customer, organisation, type, status and date; a page per
record with its history from the audit log, its Xero state and link, its exceptions,
and Force sync, which shows the outcome when it lands."""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from ...common.lifecycle import Status
from ...common.record_kinds import RECORD_TYPES, RecordKind
from ..audit_client import AuditUnavailable
from ..exceptions_query import record_exceptions
from ..organisations_query import organisation_labels
from ..records_query import SORTS, get_record, list_records
from .context import ActionFailed, Console
from .listing import FieldError, Listing, local_day
from .session import Viewer
from .xero_links import xero_link

OUTCOME_WAIT_SECONDS = 120  # the outcome panel stops asking after this; the page shows the status anyway


def _checked(record_type: str, record_id: str) -> None:
    if record_type not in RECORD_TYPES:
        raise HTTPException(404, f"record_type: {record_type!r} is not one of {', '.join(RECORD_TYPES)}")
    if RecordKind(record_type).from_connectwise and not record_id.isdigit():
        raise HTTPException(404, f"record_id: a ConnectWise id is a number, not {record_id!r}")


def records_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Operator = Annotated[Viewer, Depends(console.gate.form("operator"))]

    @router.get("/records")
    def records(
        request: Request,
        _viewer: Reader,
        q: str = "",
        organisation: str | None = None,
        record_type: str = "",
        status: str = "",
        updated_from: str = "",
        updated_to: str = "",
    ):
        listing = Listing.of(request, tuple(SORTS), "updated")
        error, page = None, None
        with console.db.connection() as conn:
            orgs = organisation_labels(conn)
            try:
                if record_type and record_type not in RECORD_TYPES:
                    raise FieldError("record_type", f"{record_type!r} is not one of {', '.join(RECORD_TYPES)}")
                if status and status not in {s.value for s in Status}:
                    raise FieldError("status", f"{status!r} is not a sync status")
                start = local_day(request, "updated_from", updated_from)
                end = local_day(request, "updated_to", updated_to, end=True)
                page = list_records(
                    conn,
                    record_type or None,
                    status or None,
                    organisation,
                    q.strip() or None,
                    listing.page_size,
                    listing.offset,
                    sort=listing.sort,
                    descending=listing.descending,
                    updated_from=start,
                    updated_to=end,
                )
            except FieldError as exc:
                error = str(exc)
        return console.render.page(
            request,
            "records.html",
            page=page,
            listing=listing,
            pages=listing.pages(page.total if page else 0),
            orgs=orgs,
            statuses=[s.value for s in Status],
            error=error,
            filters={
                "q": q,
                "organisation": organisation,
                "record_type": record_type,
                "status": status,
                "updated_from": updated_from,
                "updated_to": updated_to,
            },
        )

    @router.get("/records/{record_type}/{record_id}")
    async def record(request: Request, record_type: str, record_id: str, _viewer: Reader):
        _checked(record_type, record_id)
        with console.db.connection() as conn:
            found = get_record(conn, record_type, record_id)
            exceptions = record_exceptions(conn, record_type, record_id)
            orgs = organisation_labels(conn)
        history, history_error = [], None
        try:
            resp = await console.audit.page({"record_type": record_type, "record_id": record_id, "limit": "200"})
            if resp.status_code == 200:
                history = resp.json().get("entries", [])
            else:
                history_error = f"the audit service answered {resp.status_code}"
        except AuditUnavailable as exc:
            history_error = str(exc)
        org = orgs.get(found.organisation_id) if found and found.organisation_id else None
        return console.render.page(
            request,
            "record.html",
            record=found,
            record_type=record_type,
            record_id=record_id,
            exceptions=exceptions,
            history=history,
            history_error=history_error,
            org=org,
            xero_url=xero_link(record_type, found.xero_id if found else None),
        )

    @router.post("/records/{record_type}/{record_id}/force-sync")
    def force_sync(request: Request, record_type: str, record_id: str, viewer: Operator):
        _checked(record_type, record_id)
        with console.db.connection() as conn:
            before = get_record(conn, record_type, record_id)
        since = datetime.now(timezone.utc)
        try:
            command = console.send("FORCE_SYNC", record_type, record_id, requested_by=viewer.name)
        except ActionFailed as exc:
            return console.render.page(request, "_force_sync.html", error=str(exc), record=before)
        return console.render.page(
            request,
            "_force_sync.html",
            command=command,
            since=since.isoformat(),
            record=before,
            record_type=record_type,
            record_id=record_id,
            landed=False,
        )

    @router.get("/records/{record_type}/{record_id}/outcome")
    def outcome(request: Request, record_type: str, record_id: str, since: str, _viewer: Reader):
        """The record once something happened to it after `since`; until then, the same panel asking again."""
        _checked(record_type, record_id)
        try:
            asked = datetime.fromisoformat(since)
        except ValueError:
            raise HTTPException(422, f"since: {since!r} is not an ISO date-time") from None
        with console.db.connection() as conn:
            now = get_record(conn, record_type, record_id)
        landed = now is not None and now.updated_at >= asked and now.status not in ("pending", "mapped")
        gave_up = (datetime.now(timezone.utc) - asked).total_seconds() > OUTCOME_WAIT_SECONDS
        return console.render.page(
            request,
            "_force_sync.html",
            record=now,
            since=since,
            landed=landed,
            gave_up=gave_up and not landed,
            record_type=record_type,
            record_id=record_id,
            command=None,
        )

    return router
