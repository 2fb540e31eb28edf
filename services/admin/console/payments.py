"""Payments: Xero payments applied back in ConnectWise (matched, partial, over, unmatched),
and the open-balance comparison of both systems, with its CSV."""

from ...common.http_app import csv_download
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ...common.open_balances import balance_rows, by_customer
from ..organisations_query import organisation_labels
from ..payments_query import CLASSES, SORTS, list_payments, payment_counts
from ..routes_balances import as_csv, organisation_checks
from .context import Console
from .listing import Listing
from .session import Viewer


def payments_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]

    @router.get("/payments")
    def payments(request: Request, _viewer: Reader, organisation: str = "", kind: str = ""):
        listing = Listing.of(request, tuple(SORTS), "decided")
        with console.db.connection() as conn:
            counts = payment_counts(conn, organisation or None)
            rows, total = list_payments(
                conn,
                organisation or None,
                kind if kind in CLASSES else None,
                listing.page_size,
                listing.offset,
                sort=listing.sort,
                descending=listing.descending,
            )
            orgs = organisation_labels(conn)
        return console.render.page(
            request,
            "payments.html",
            rows=rows,
            counts=counts,
            classes=CLASSES,
            kind=kind,
            organisation=organisation,
            orgs=orgs,
            listing=listing,
            pages=listing.pages(total),
        )

    @router.get("/payments/balances")
    def balances(
        request: Request, _viewer: Reader, organisation: str = "", customer: str = "", only_differences: bool = True
    ):
        with console.db.connection() as conn:
            rows = balance_rows(conn, organisation or None, customer or None)
            checks = organisation_checks(conn, organisation or None)
            orgs = organisation_labels(conn)
        customers = by_customer(rows, only_differences)
        return console.render.page(
            request,
            "balances.html",
            customers=customers,
            checks=checks,
            orgs=orgs,
            organisation=organisation,
            customer=customer,
            only_differences=only_differences,
        )

    @router.get("/payments/balances.csv")
    def balances_csv(_viewer: Reader, organisation: str = "", customer: str = "", only_differences: bool = False):
        with console.db.connection() as conn:
            rows = balance_rows(conn, organisation or None, customer or None, only_differences)
        return csv_download(as_csv(rows), "balances.csv")

    return router
