"""An organisation's books: its sync settings (go-live date, live or shadow, lock-date
treatment, rounding account, customer details), what Xero says of it (currencies, lock
dates), and the report of its shadow run with counts per outcome and its CSV. The same
settings change and read model as the API's (`routes_real_books.py`)."""

from ...common.http_app import csv_download
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ...common.record_kinds import RECORD_TYPES
from ...common.shadow_report import OUTCOMES
from ...mapping import catalog as catalog_store
from ...mapping import repository as repo
from ...mapping import sync_settings
from ...mapping.model import LOCK_DATE_TREATMENTS, MODES
from ...mapping.xero_facts import read_facts
from ..routes_real_books import SyncSettingsIn, change_sync_settings
from ..shadow_report_query import all_outcomes, as_csv, list_outcomes, outcome_counts
from .context import Console
from .listing import Listing
from .routing import first_error
from .session import Viewer

MODE_LABELS = {"live": "Live: written to Xero", "shadow": "Shadow: decided and reported, nothing written"}
LOCK_LABELS = {
    "exception": "Raise a period_locked exception",
    "first_open_day": "Date it on the first open day (its date kept in the reference)",
}
OUTCOME_HELP = {
    "create": "would be created in Xero",
    "update": "would update the Xero document it is linked to",
    "adopt": "would be linked to the document Xero already holds",
    "void": "would be voided in Xero",
    "delete": "would be deleted in Xero",
    "skip": "nothing would be written",
    "wait": "waits for its document",
    "exception": "would raise an exception",
}


def books_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Admin = Annotated[Viewer, Depends(console.gate.form("admin"))]

    def organisation(conn, org_id: str) -> dict:
        try:
            return repo._public(repo.get_organisation(conn, org_id))
        except repo.NotFound:
            raise HTTPException(404, f"organisation: there is no organisation {org_id!r}") from None

    def filters(outcome: str, record_type: str) -> tuple[str | None, str | None]:
        return (outcome if outcome in OUTCOMES else None), (record_type if record_type in RECORD_TYPES else None)

    def page(request: Request, org_id: str, outcome: str = "", record_type: str = "", status_code: int = 200, **extra):
        listing = Listing.of(request, ("record",), "record", descending=False)
        chosen, kind = filters(outcome, record_type)
        with console.db.connection() as conn:
            org = organisation(conn, org_id)
            current = sync_settings.get_settings(conn, org_id)
            accounts = [a for a in catalog_store.read_catalog(conn, org_id)["accounts"] if a["status"] == "ACTIVE"]
            facts = read_facts(conn, org_id)
            rows, total = list_outcomes(conn, org_id, chosen, kind, listing.page_size, listing.offset)
            counts = outcome_counts(conn, org_id, kind)
        csv_query = urlencode({k: v for k, v in (("outcome", chosen), ("record_type", kind)) if v})
        return console.render.page(
            request,
            "books.html",
            status_code=status_code,
            org=org,
            current=current,
            accounts=accounts,
            facts=facts,
            rows=rows,
            counts=counts,
            outcome=chosen or "",
            record_type=kind or "",
            pages=listing.pages(total),
            outcomes=OUTCOMES,
            outcome_help=OUTCOME_HELP,
            modes=[(m, MODE_LABELS[m]) for m in MODES],
            treatments=[(t, LOCK_LABELS[t]) for t in LOCK_DATE_TREATMENTS],
            csv_url=f"/organisations/{org_id}/books/shadow-report.csv" + (f"?{csv_query}" if csv_query else ""),
            **extra,
        )

    @router.get("/organisations/{org_id}/books")
    def books(
        request: Request,
        org_id: str,
        _viewer: Reader,
        outcome: str = "",
        record_type: str = "",
        saved: str = "",
        again: int = 0,
    ):
        flash = None
        if saved:
            flash = "Saved: it applies from the next record."
            if again:
                flash += f" {again} records decided before are being read from ConnectWise again under it."
        return page(request, org_id, outcome, record_type, flash=flash)

    @router.post("/organisations/{org_id}/books/settings")
    async def save(request: Request, org_id: str, viewer: Admin):
        form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
        try:
            values = SyncSettingsIn(
                go_live_date=form.get("go_live_date") or None,
                mode=form.get("mode", ""),
                lock_date_treatment=form.get("lock_date_treatment", ""),
                rounding_account_code=form.get("rounding_account_code") or None,
                customer_details=form.get("customer_details") == "on",
            )
        except ValidationError as exc:
            return page(request, org_id, status_code=422, error=first_error(exc))
        try:
            _after, replays = change_sync_settings(
                console.db,
                console.publisher,
                console.settings.postgres_url,
                console.sender,
                org_id,
                values.model_dump(),
                viewer.name,
            )
        except repo.NotFound:
            raise HTTPException(404, f"organisation: there is no organisation {org_id!r}") from None
        except sync_settings.SettingsError as exc:
            return page(request, org_id, status_code=422, error=str(exc))
        except HTTPException as exc:  # saved, but the records it concerns could not be queued again
            return page(request, org_id, status_code=exc.status_code, error=str(exc.detail))
        again = sum(r.records for r in replays)
        return RedirectResponse(
            f"/organisations/{org_id}/books?saved=1" + (f"&again={again}" if again else ""), status_code=303
        )

    @router.get("/organisations/{org_id}/books/shadow-report.csv")
    def shadow_report_csv(org_id: str, _viewer: Reader, outcome: str = "", record_type: str = ""):
        chosen, kind = filters(outcome, record_type)
        with console.db.connection() as conn:
            organisation(conn, org_id)
            body = as_csv(all_outcomes(conn, org_id, chosen, kind))
        return csv_download(body, f"shadow-report-{org_id}.csv")

    return router
