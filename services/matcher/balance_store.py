"""Postgres for the balance check (migration 050): the ConnectWise balances it
keeps, the differences it found and the checks it ran. Both sides' balances of
every synced invoice are read through `common/open_balances.py`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..common.db import Conn
from ..common.open_balances import InvoiceBalance

CW_BALANCES_CURSOR = "matcher:cw_balances"


def last_checks(conn: Conn) -> dict[str, dict]:
    return {r["organisation_id"]: r for r in conn.execute("select * from balance_checks")}


def finished_cycles(conn: Conn) -> dict[str, datetime]:
    """Each organisation's last successful payment cycle (ingest's cursors)."""
    return {
        r["source"].removeprefix("xero:payments:"): r["last_cycle_finished"]
        for r in conn.execute(
            "select source, last_cycle_finished from sync_cursors where source like 'xero:payments:%'"
            " and last_cycle_finished is not null and last_cycle_status in ('ok', 'requested')"
        )
    }


def cw_cursor(conn: Conn) -> datetime | None:
    row = conn.execute("select cursor_at from sync_cursors where source = %s", (CW_BALANCES_CURSOR,)).fetchone()
    return row["cursor_at"] if row else None


def save_cw_balances(conn: Conn, rows: list[dict], newest: datetime | None) -> None:
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into cw_invoice_balances (cw_invoice_id, invoice_number, company_identifier, company_name,"
                " status, total, balance, last_updated) values (%(id)s, %(number)s, %(company_identifier)s,"
                " %(company_name)s, %(status)s, %(total)s, %(balance)s, %(last_updated)s)"
                " on conflict (cw_invoice_id) do update set invoice_number = excluded.invoice_number,"
                " company_identifier = excluded.company_identifier, company_name = excluded.company_name,"
                " status = excluded.status, total = excluded.total, balance = excluded.balance,"
                " last_updated = excluded.last_updated, seen_at = now()",
                rows,
            )
        if newest is not None:
            conn.execute(
                "insert into sync_cursors (source, cursor_at) values (%s, %s) on conflict (source)"
                " do update set cursor_at = greatest(sync_cursors.cursor_at, excluded.cursor_at),"
                " updated_at = now()",
                (CW_BALANCES_CURSOR, newest),
            )


def record_check(
    conn: Conn,
    organisation_id: str,
    found: list[InvoiceBalance],
    at: datetime,
    cycle_finished_at: datetime | None,
    invoices: int,
    total: Decimal,
) -> list[dict]:
    """Stores this check's differences; returns those that outlived a full cycle and were never
    raised (now marked raised), each with when it was first seen. Differences gone are forgotten
    and their open exceptions resolved."""
    with conn.transaction():
        ids = [r.cw_invoice_id for r in found]
        gone = [
            r["cw_invoice_id"]
            for r in conn.execute(
                "delete from balance_differences where organisation_id = %s and not (cw_invoice_id = any(%s))"
                " returning cw_invoice_id",
                (organisation_id, ids),
            )
        ]
        if gone:
            conn.execute(
                "update exceptions set status = 'resolved', resolved_at = now(), resolved_by = 'balance check'"
                " where status = 'open' and kind = 'open_balance_difference' and record_type = 'invoice'"
                " and organisation_id = %s and record_id = any(%s)",
                (organisation_id, [str(i) for i in gone]),
            )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into balance_differences (organisation_id, cw_invoice_id, cw_balance, xero_amount_due, cause,"
                " first_seen, last_seen) values (%s, %s, %s, %s, %s, %s, %s) on conflict (organisation_id, "
                "cw_invoice_id)"
                " do update set cw_balance = excluded.cw_balance, xero_amount_due = excluded.xero_amount_due,"
                " cause = excluded.cause, last_seen = excluded.last_seen, checks = balance_differences.checks + 1",
                [(organisation_id, r.cw_invoice_id, r.cw_balance, r.xero_amount_due, r.cause, at, at) for r in found],
            )
        due = conn.execute(
            "update balance_differences set raised_at = %s where organisation_id = %s and checks >= 2"
            " and raised_at is null returning cw_invoice_id, first_seen",
            (at, organisation_id),
        ).fetchall()
        conn.execute(
            "insert into balance_checks (organisation_id, cycle_finished_at, checked_at, invoices, differences,"
            " difference_total) values (%s, %s, %s, %s, %s, %s) on conflict (organisation_id) do update set"
            " cycle_finished_at = excluded.cycle_finished_at, checked_at = excluded.checked_at,"
            " invoices = excluded.invoices, differences = excluded.differences,"
            " difference_total = excluded.difference_total",
            (organisation_id, cycle_finished_at, at, invoices, len(found), total),
        )
    return due
