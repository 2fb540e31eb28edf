"""The console's read model of Xero payments applied back in ConnectWise: each payment the
matcher decided, classed as a finance person sorts them (matched in full, partial, over,
unmatched, skipped), with its invoice and the note saying what was applied or why not."""

from __future__ import annotations

from ..common.db import Conn, one_row

# How each decided payment reads: the matcher's outcome and exception, and the invoice's balance after it.
_CLASS = """case
  when m.outcome = 'raised' and m.exception_kind = 'overpayment' then 'over'
  when m.outcome = 'raised' then 'unmatched'
  when m.outcome = 'skipped' then 'skipped'
  when m.outcome = 'held' then 'waiting'
  when b.balance > 0 then 'partial'
  else 'matched' end"""
CLASSES = ("matched", "partial", "over", "unmatched", "waiting", "skipped")
# Columns the payments list may be sorted by (what a person clicks), and the SQL each sorts on.
SORTS = {
    "decided": "m.decided_at",
    "organisation": "m.organisation_id",
    "customer": "coalesce(b.company_name, r.customer)",
    "invoice": "b.invoice_number",
    "amount": "m.amount",
    "outcome": "class",
    "balance": "b.balance",
}


def payment_counts(conn: Conn, organisation: str | None) -> dict[str, int]:
    rows = conn.execute(
        f"select {_CLASS} as class, count(*) as n from matcher_payments m"
        " left join cw_invoice_balances b on b.cw_invoice_id = m.cw_invoice_id"
        " where %(o)s::text is null or m.organisation_id = %(o)s group by 1",
        {"o": organisation},
    ).fetchall()
    return {r["class"]: r["n"] for r in rows}


def list_payments(
    conn: Conn,
    organisation: str | None,
    klass: str | None,
    limit: int,
    offset: int,
    sort: str = "decided",
    descending: bool = True,
) -> tuple[list[dict], int]:
    """A page of decided payments; `sort` is a key of SORTS (ties by newest decided)."""
    where = f"(%(o)s::text is null or m.organisation_id = %(o)s) and (%(c)s::text is null or {_CLASS} = %(c)s)"
    params = {"o": organisation, "c": klass, "l": limit, "off": offset}
    base = (
        " from matcher_payments m left join cw_invoice_balances b on b.cw_invoice_id = m.cw_invoice_id"
        " left join sync_records r on r.record_type = 'xero_payment' and r.cw_id = m.xero_payment_id"
        f" where {where}"
    )
    total = one_row(conn, f"select count(*) as n{base}", params)["n"]
    rows = conn.execute(
        f"select m.organisation_id, m.xero_payment_id, m.amount, m.outcome, m.exception_kind, m.note, m.decided_at,"
        f" m.cw_invoice_id, b.invoice_number, b.company_name, b.balance, r.customer, {_CLASS} as class{base}"
        f" order by {SORTS.get(sort, 'm.decided_at')} {'desc' if descending else 'asc'} nulls last,"
        " m.decided_at desc, m.xero_payment_id limit %(l)s offset %(off)s",
        params,
    ).fetchall()
    return rows, total
