"""Exceptions: open and resolved, grouped by kind with counts, what to fix in plain words,
a link to the mapping that would fix it, the audit entry and the record (force-sync
once fixed); resolve and re-open."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from ...common import exceptions as exceptions_store
from ..exceptions_query import counts_by_kind, get_exception, list_page
from ..organisations_query import organisation_labels
from .context import Console
from .exception_help import fix_link, help_for
from .listing import Listing
from .session import Viewer

STATUSES = ("open", "resolved", "all")
SORTS = ("seen", "first", "kind", "record", "organisation", "customer")


def exceptions_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Operator = Annotated[Viewer, Depends(console.gate.form("operator"))]

    @router.get("/exceptions")
    def exceptions(
        request: Request, _viewer: Reader, status: str = "open", kind: str = "", organisation: str | None = None
    ):
        status = status if status in STATUSES else "open"
        listing = Listing.of(request, SORTS, "seen")
        wanted = None if status == "all" else status
        with console.db.connection() as conn:
            groups = counts_by_kind(conn, wanted, organisation)
            rows, total = list_page(
                conn,
                wanted,
                kind or None,
                organisation,
                listing.page_size,
                listing.offset,
                listing.sort,
                listing.descending,
            )
            orgs = organisation_labels(conn)
        for group in groups:
            group["help"] = help_for(group["kind"])
        return console.render.page(
            request,
            "exceptions.html",
            groups=groups,
            rows=rows,
            status=status,
            kind=kind,
            organisation=organisation,
            orgs=orgs,
            listing=listing,
            pages=listing.pages(total),
            help_for=help_for,
            fix_link=fix_link,
            statuses=STATUSES,
        )

    @router.get("/exceptions/{exception_id}")
    def exception(request: Request, exception_id: int, _viewer: Reader):
        with console.db.connection() as conn:
            row = get_exception(conn, exception_id)
            orgs = organisation_labels(conn)
        if row is None:
            raise HTTPException(404, f"exception_id: there is no exception {exception_id}")
        return console.render.page(
            request,
            "exception.html",
            e=row,
            help=help_for(row["kind"]),
            fix=fix_link(row),
            org=orgs.get(row["organisation_id"]),
        )

    @router.post("/exceptions/{exception_id}/resolve")
    def resolve(exception_id: int, viewer: Operator):
        with console.db.connection() as conn:
            exceptions_store.resolve(conn, exception_id, viewer.name)  # already resolved: nothing to do
        return RedirectResponse(f"/exceptions/{exception_id}", status_code=303)

    @router.post("/exceptions/{exception_id}/reopen")
    def reopen(request: Request, exception_id: int, viewer: Operator):
        with console.db.connection() as conn:
            row = get_exception(conn, exception_id)
            if row is None:
                raise HTTPException(404, f"exception_id: there is no exception {exception_id}")
            if row["status"] == "resolved" and exceptions_store.reopen(conn, exception_id) is None:
                return console.render.page(
                    request,
                    "exception.html",
                    status_code=409,
                    e=row,
                    help=help_for(row["kind"]),
                    fix=fix_link(row),
                    org=organisation_labels(conn).get(row["organisation_id"]),
                    flash="This record has raised the same problem again since: the newer exception is the open "
                    "one (see Exceptions).",
                    flash_kind="error",
                )
        return RedirectResponse(f"/exceptions/{exception_id}", status_code=303)

    return router
