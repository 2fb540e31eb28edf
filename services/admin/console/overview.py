"""Overview: each organisation at a glance, and every record type's cycles with a live
progress bar while one runs (the panel polls itself quickly only then)."""

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ...common.record_kinds import RECORD_TYPES
from ..overview_query import organisation_overviews, unrouted_exceptions
from ..records_query import sync_states
from .context import ActionFailed, Console
from .rendering import first_upper, kind_label, viewer_zone
from .session import Viewer


def viewer_midnight(request: Request) -> datetime:
    zone = viewer_zone(request)
    return datetime.combine(datetime.now(zone).date(), time(0), tzinfo=zone)


def overview_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Operator = Annotated[Viewer, Depends(console.gate.form("operator"))]

    def cycles(request: Request, asked: bool = False, **extra):
        """`asked`: a cycle was just asked for; the panel polls quickly to show it start and run,
        before ingest has taken the command and marked it requested."""
        with console.db.connection() as conn:
            states = sync_states(conn)
        running = asked or any(s.last_cycle_status in ("requested", "running") for s in states)
        return console.render.page(request, "_cycles.html", states=states, running=running, **extra)

    @router.get("/")
    def overview(request: Request, _viewer: Reader):
        with console.db.connection() as conn:
            orgs = organisation_overviews(conn, viewer_midnight(request), console.settings.xero_limit_per_day)
            states = sync_states(conn)
            unrouted = unrouted_exceptions(conn)
        running = any(s.last_cycle_status in ("requested", "running") for s in states)
        return console.render.page(
            request,
            "overview.html",
            orgs=orgs,
            states=states,
            running=running,
            unrouted=unrouted,
            record_types=RECORD_TYPES,
        )

    @router.get("/overview/cycles")
    def cycles_panel(request: Request, _viewer: Reader):
        return cycles(request)

    @router.post("/overview/cycles/{record_type}/run")
    def run_now(request: Request, record_type: str, _viewer: Operator):
        if record_type not in RECORD_TYPES:
            return cycles(request, error=f"record_type: {record_type!r} is not one of {', '.join(RECORD_TYPES)}")
        try:
            command = console.send("RUN_CYCLE", record_type, requested_by=_viewer.name)
        except ActionFailed as exc:
            return cycles(request, error=str(exc))
        return cycles(
            request,
            asked=True,
            notice=f"{first_upper(kind_label(record_type))} cycle requested"
            f" (command {command.command_id[:8]}); its progress shows here.",
        )

    return router
