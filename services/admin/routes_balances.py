"""Open-balance integrity in the admin API: for every synced invoice, per
organisation and customer, the ConnectWise balance against the Xero amount due,
each difference with its likely cause (`services/common/open_balances.py`), and each
organisation's last payment cycle and balance check. As of the last check: the
matcher reads ConnectWise balances after each payment cycle, which reads Xero's."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ..common.database import Database
from ..common.http_app import UserAuth, api_router, csv_download
from ..common.open_balances import InvoiceBalance, balance_rows, by_customer

CSV_COLUMNS = (
    "organisation_id",
    "customer",
    "invoice_number",
    "cw_invoice_id",
    "xero_invoice_id",
    "cw_balance",
    "xero_amount_due",
    "difference",
    "cause",
)


class InvoiceDifference(BaseModel):
    cw_invoice_id: int
    invoice_number: str
    xero_invoice_id: str
    cw_balance: Decimal
    xero_amount_due: Decimal
    difference: Decimal
    cause: str


class CustomerBalance(BaseModel):
    organisation_id: str
    customer: str
    invoices: int
    cw_balance: Decimal
    xero_amount_due: Decimal
    difference: Decimal
    differences: list[InvoiceDifference]


class OrganisationCheck(BaseModel):
    organisation_id: str
    last_payment_cycle: datetime | None
    last_payment_cycle_status: str | None
    checked_at: datetime | None
    invoices: int | None
    differences: int | None
    difference_total: Decimal | None


class Balances(BaseModel):
    customers: list[CustomerBalance]
    organisations: list[OrganisationCheck]


def _difference(row: InvoiceBalance) -> InvoiceDifference:
    return InvoiceDifference(
        cw_invoice_id=row.cw_invoice_id,
        invoice_number=row.number,
        xero_invoice_id=row.xero_invoice_id,
        cw_balance=row.cw_balance,
        xero_amount_due=row.xero_amount_due,
        difference=row.difference,
        cause=row.cause,
    )


def organisation_checks(conn, organisation: str | None) -> list[OrganisationCheck]:
    """Each organisation's last payment cycle and balance check."""
    rows = conn.execute(
        "select o.id as organisation_id, c.last_cycle_finished as last_payment_cycle,"
        " c.last_cycle_status as last_payment_cycle_status, b.checked_at, b.invoices, b.differences, b.difference_total"
        " from organisations o left join sync_cursors c on c.source = 'xero:payments:' || o.id"
        " left join balance_checks b on b.organisation_id = o.id where %s::text is null or o.id = %s order by o.id",
        (organisation, organisation),
    ).fetchall()
    return [OrganisationCheck(**r) for r in rows]


def as_csv(rows: list[InvoiceBalance]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.organisation_id,
                r.customer,
                r.number,
                r.cw_invoice_id,
                r.xero_invoice_id,
                "" if r.cw_balance is None else f"{r.cw_balance:.2f}",
                "" if r.xero_amount_due is None else f"{r.xero_amount_due:.2f}",
                "" if r.difference is None else f"{r.difference:.2f}",
                r.cause or "",
            ]
        )
    return out.getvalue()


Organisation = Annotated[str | None, Query(description="Organisation id")]
Customer = Annotated[str | None, Query(description="ConnectWise company name or identifier (part of it)")]
OnlyDifferences = Annotated[bool, Query(description="Only customers and invoices whose balances differ")]


def balances_router(db: Database, auth: UserAuth) -> APIRouter:
    router = api_router(auth, "balances")

    @router.get(
        "/balances",
        response_model=Balances,
        summary="Open balances, ConnectWise against Xero, per organisation and customer, with each difference"
        " and its likely cause",
    )
    def balances(
        organisation: Organisation = None, customer: Customer = None, only_differences: OnlyDifferences = False
    ) -> Balances:
        with db.connection() as conn:
            rows = balance_rows(conn, organisation, customer)
            checks = organisation_checks(conn, organisation)
        customers = [
            CustomerBalance(
                organisation_id=t.organisation_id,
                customer=t.customer,
                invoices=t.invoices,
                cw_balance=t.cw_balance,
                xero_amount_due=t.xero_amount_due,
                difference=t.difference,
                differences=[_difference(r) for r in t.differences],
            )
            for t in by_customer(rows, only_differences)
        ]
        return Balances(customers=customers, organisations=checks)

    @router.get(
        "/balances.csv",
        summary="The same view as CSV, one line per synced invoice",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def balances_csv(
        organisation: Organisation = None, customer: Customer = None, only_differences: OnlyDifferences = False
    ) -> Response:
        with db.connection() as conn:
            rows = balance_rows(conn, organisation, customer, only_differences)
        return csv_download(as_csv(rows), "balances.csv")

    return router
