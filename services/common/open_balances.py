"""Open-balance integrity as the services share it: for each synced invoice, the
ConnectWise balance against the Xero amount due, the likely cause of any
difference, and the totals per organisation and customer. The matcher's check
after each payment cycle and the admin API's `/api/balances` both read it here
(`balance_rows`); the rest is pure. docs/payments.md states the causes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .db import Conn

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class InvoiceBalance:
    """One synced invoice, with what explains a difference (from sync_records and the ledgers)."""

    organisation_id: str
    customer: str
    cw_invoice_id: int
    number: str
    xero_invoice_id: str
    cw_balance: Decimal | None  # None until the check has read it from ConnectWise
    xero_amount_due: Decimal | None  # None until the payment cycle has read it from Xero
    cw_total: Decimal | None = None
    xero_total: Decimal | None = None
    record_status: str = "synced"  # the invoice's sync status
    payments_pending: int = 0  # Xero payments on its Xero invoice the matcher has not decided yet
    payments_unmatched: int = 0  # Xero payments on it left unmatched (an exception says why)
    cw_money_pending: int = 0  # ConnectWise payments on it not yet in Xero

    @property
    def difference(self) -> Decimal | None:
        if self.cw_balance is None or self.xero_amount_due is None:
            return None
        return (self.cw_balance - self.xero_amount_due).quantize(CENT)

    @property
    def cause(self) -> str | None:
        """The likely cause of a difference, most specific first; None when there is none."""
        if self.difference is None:
            return "not read yet" if self.cw_balance is None or self.xero_amount_due is None else None
        if self.difference == ZERO:
            return None
        if self.payments_unmatched:
            return "unmatched payment"
        if self.payments_pending:
            return "payment not yet matched"
        if self.record_status != "synced" or (
            self.cw_total is not None
            and self.xero_total is not None
            and self.cw_total.quantize(CENT) != self.xero_total.quantize(CENT)
        ):
            return "edit not yet written"
        if self.cw_money_pending:
            return "ConnectWise payment not yet written to Xero"
        return "unexplained: compare the invoice's payments in both systems"


@dataclass
class CustomerTotals:
    organisation_id: str
    customer: str
    invoices: int = 0
    cw_balance: Decimal = ZERO
    xero_amount_due: Decimal = ZERO
    differences: list[InvoiceBalance] = field(default_factory=list)

    @property
    def difference(self) -> Decimal:
        return (self.cw_balance - self.xero_amount_due).quantize(CENT)


def differing(rows: list[InvoiceBalance]) -> list[InvoiceBalance]:
    """Invoices whose balances differ (read on both sides and not equal)."""
    return [r for r in rows if r.difference not in (None, ZERO)]


def by_customer(rows: list[InvoiceBalance], only_differences: bool = False) -> list[CustomerTotals]:
    """Totals per organisation and customer, each with the invoices that differ."""
    groups: dict[tuple[str, str], CustomerTotals] = {}
    for row in rows:
        totals = groups.setdefault(
            (row.organisation_id, row.customer), CustomerTotals(row.organisation_id, row.customer)
        )
        totals.invoices += 1
        totals.cw_balance += row.cw_balance or ZERO
        totals.xero_amount_due += row.xero_amount_due or ZERO
        if row.difference not in (None, ZERO):
            totals.differences.append(row)
    found = sorted(groups.values(), key=lambda t: (t.organisation_id, t.customer))
    return [t for t in found if t.differences] if only_differences else found


def organisation_total(rows: list[InvoiceBalance]) -> Decimal:
    """The metric: the sum of absolute differences (a difference either way counts)."""
    return sum((abs(r.difference or ZERO) for r in differing(rows)), ZERO)


_PENDING = ("pending", "mapped", "waiting", "failed")

_ROWS = f"""
with xp as (
    select organisation_id, snapshot->>'invoice_id' as xero_invoice_id,
           count(*) filter (where status in {_PENDING}) as pending,
           count(*) filter (where status = 'exception') as unmatched
    from sync_records where record_type = 'xero_payment' and snapshot->>'invoice_id' is not null group by 1, 2),
cm as (
    select (snapshot->>'invoice_id')::bigint as cw_invoice_id, count(*) as pending
    from sync_records where record_type = 'payment' and status not in ('synced', 'skipped') group by 1)
select r.organisation_id, coalesce(c.company_name, r.customer, '') as customer, r.cw_id::bigint as cw_invoice_id,
       coalesce(r.record_number, c.invoice_number, r.cw_id) as number, r.xero_id as xero_invoice_id,
       c.balance as cw_balance, x.amount_due as xero_amount_due, coalesce(c.total, r.total) as cw_total,
       x.total as xero_total, r.status as record_status, coalesce(xp.pending, 0) as payments_pending,
       coalesce(xp.unmatched, 0) as payments_unmatched, coalesce(cm.pending, 0) as cw_money_pending
from sync_records r
left join cw_invoice_balances c on c.cw_invoice_id = r.cw_id::bigint
left join xero_invoice_balances x on x.organisation_id = r.organisation_id and x.xero_invoice_id = r.xero_id
left join xp on xp.organisation_id = r.organisation_id and xp.xero_invoice_id = r.xero_id
left join cm on cm.cw_invoice_id = r.cw_id::bigint
where r.record_type = 'invoice' and r.xero_id is not null and r.organisation_id is not null
  and (%(org)s::text is null or r.organisation_id = %(org)s)
  and (%(customer)s::text is null or coalesce(c.company_name, r.customer) ilike %(customer)s
       or c.company_identifier ilike %(customer)s)
order by r.organisation_id, customer, r.cw_id::bigint
"""


def balance_rows(
    conn: Conn, organisation: str | None = None, customer: str | None = None, only_differences: bool = False
) -> list[InvoiceBalance]:
    pattern = None if customer is None else "%" + customer.replace("%", r"\%").replace("_", r"\_") + "%"
    rows = [InvoiceBalance(**r) for r in conn.execute(_ROWS, {"org": organisation, "customer": pattern})]
    return [r for r in rows if r.difference not in (None, Decimal(0))] if only_differences else rows
