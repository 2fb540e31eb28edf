"""Postgres for open-balance integrity (migration 050): both sides' balances of
every synced invoice with what may explain a difference, the ConnectWise
balances the check keeps, the differences it found and the checks it ran.
The admin API's `/api/balances` reads `balance_rows` too."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from .balances import InvoiceBalance

CW_BALANCES_CURSOR = "matcher:cw_balances"
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


def balance_rows(conn: psycopg.Connection, organisation: str | None = None,
                 customer: str | None = None) -> list[InvoiceBalance]:
    pattern = None if customer is None else "%" + customer.replace("%", r"\%").replace("_", r"\_") + "%"
    return [InvoiceBalance(**r) for r in conn.execute(_ROWS, {"org": organisation, "customer": pattern})]


def last_checks(conn: psycopg.Connection) -> dict[str, dict]:
    return {r["organisation_id"]: r for r in conn.execute("select * from balance_checks")}


def finished_cycles(conn: psycopg.Connection) -> dict[str, datetime]:
    """Each organisation's last successful payment cycle (ingest's cursors)."""
    return {r["source"].removeprefix("xero:payments:"): r["last_cycle_finished"] for r in conn.execute(
        "select source, last_cycle_finished from sync_cursors where source like 'xero:payments:%'"
        " and last_cycle_finished is not null and last_cycle_status in ('ok', 'requested')")}


def cw_cursor(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("select cursor_at from sync_cursors where source = %s", (CW_BALANCES_CURSOR,)).fetchone()
    return row["cursor_at"] if row else None


def save_cw_balances(conn: psycopg.Connection, rows: list[dict], newest: datetime | None) -> None:
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into cw_invoice_balances (cw_invoice_id, invoice_number, company_identifier, company_name,"
                " status, total, balance, last_updated) values (%(id)s, %(number)s, %(company_identifier)s,"
                " %(company_name)s, %(status)s, %(total)s, %(balance)s, %(last_updated)s)"
                " on conflict (cw_invoice_id) do update set invoice_number = excluded.invoice_number,"
                " company_identifier = excluded.company_identifier, company_name = excluded.company_name,"
                " status = excluded.status, total = excluded.total, balance = excluded.balance,"
                " last_updated = excluded.last_updated, seen_at = now()", rows)
        if newest is not None:
            conn.execute("insert into sync_cursors (source, cursor_at) values (%s, %s) on conflict (source)"
                         " do update set cursor_at = greatest(sync_cursors.cursor_at, excluded.cursor_at),"
                         " updated_at = now()", (CW_BALANCES_CURSOR, newest))


def record_check(conn: psycopg.Connection, organisation_id: str, found: list[InvoiceBalance], at: datetime,
                 cycle_finished_at: datetime | None, invoices: int, total: Decimal) -> list[dict]:
    """Stores this check's differences; returns those that outlived a full cycle and were never
    raised (now marked raised), each with when it was first seen. Differences gone are forgotten
    and their open exceptions resolved."""
    with conn.transaction():
        ids = [r.cw_invoice_id for r in found]
        gone = [r["cw_invoice_id"] for r in conn.execute(
            "delete from balance_differences where organisation_id = %s and not (cw_invoice_id = any(%s))"
            " returning cw_invoice_id", (organisation_id, ids))]
        if gone:
            conn.execute("update exceptions set status = 'resolved', resolved_at = now(), resolved_by = 'balance check'"
                         " where status = 'open' and kind = 'open_balance_difference' and record_type = 'invoice'"
                         " and organisation_id = %s and record_id = any(%s)", (organisation_id, [str(i) for i in gone]))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into balance_differences (organisation_id, cw_invoice_id, cw_balance, xero_amount_due, cause,"
                " first_seen, last_seen) values (%s, %s, %s, %s, %s, %s, %s) on conflict (organisation_id, cw_invoice_id)"
                " do update set cw_balance = excluded.cw_balance, xero_amount_due = excluded.xero_amount_due,"
                " cause = excluded.cause, last_seen = excluded.last_seen, checks = balance_differences.checks + 1",
                [(organisation_id, r.cw_invoice_id, r.cw_balance, r.xero_amount_due, r.cause, at, at) for r in found])
        due = conn.execute(
            "update balance_differences set raised_at = %s where organisation_id = %s and checks >= 2"
            " and raised_at is null returning cw_invoice_id, first_seen", (at, organisation_id)).fetchall()
        conn.execute(
            "insert into balance_checks (organisation_id, cycle_finished_at, checked_at, invoices, differences,"
            " difference_total) values (%s, %s, %s, %s, %s, %s) on conflict (organisation_id) do update set"
            " cycle_finished_at = excluded.cycle_finished_at, checked_at = excluded.checked_at,"
            " invoices = excluded.invoices, differences = excluded.differences,"
            " difference_total = excluded.difference_total",
            (organisation_id, cycle_finished_at, at, invoices, len(found), total))
    return due
