"""Postgres for the Xero payments poll: one cursor per organisation in
`sync_cursors` (`xero:payments:<organisation id>`), the payments' hashes and
status in `sync_records` (through `record_status`), and the open balances of
Xero sales invoices (`xero_invoice_balances`, for the balance check)."""
from __future__ import annotations

from datetime import datetime

import psycopg

from ..common.db import connect
from ..common.lifecycle import Event
from ..common.locks import XERO_PAYMENT_POLL  # with hashtext(organisation id): one poll per organisation
from ..common.record_kinds import RecordKind
from ..common.record_status import Content, StatusChange, record_changes
from ..integrations.xero.client import XeroOrg
from .poller import EPOCH
from .store import Cursor
from .xero_payment_events import snapshot_of

RECORD_TYPE = RecordKind.XERO_PAYMENT.value


def source(organisation_id: str) -> str:
    return f"xero:payments:{organisation_id}"


class XeroPaymentStore:
    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.url, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def organisations(self) -> list[XeroOrg]:
        """The connected organisations, each polled on its own."""
        return [XeroOrg(r["id"], r["tenant_id"]) for r in self.conn.execute(
            "select id, tenant_id from organisations where status = 'connected' order by id")]

    # --- cursors (the same columns and rules as ConnectWise's, see store.py) ----------------

    def cursor(self, organisation_id: str) -> Cursor:
        row = self.conn.execute("select cursor_at, last_cycle_started, last_cycle_finished, last_cycle_status"
                                " from sync_cursors where source = %s", (source(organisation_id),)).fetchone()
        if row is None:
            return Cursor(EPOCH, None, None, None)
        return Cursor(row["cursor_at"], row["last_cycle_started"], row["last_cycle_finished"], row["last_cycle_status"])

    def cycle_started(self, organisation_id: str, at: datetime) -> None:
        self.conn.execute(
            "insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_status)"
            " values (%s, %s, %s, 'running') on conflict (source) do update set"
            " last_cycle_started = excluded.last_cycle_started, last_cycle_status = 'running', updated_at = now()",
            (source(organisation_id), EPOCH, at))

    def cycle_finished(self, organisation_id: str, at: datetime, status: str, cursor_at: datetime | None) -> None:
        self.conn.execute(
            "update sync_cursors set last_cycle_finished = %s,"
            " last_cycle_status = case when last_cycle_status = 'requested' then 'requested' else %s end,"
            " cursor_at = greatest(cursor_at, coalesce(%s, cursor_at)), updated_at = now() where source = %s",
            (at, status, cursor_at, source(organisation_id)))

    def request_cycle(self, organisation_ids: list[str]) -> None:
        with self.conn.transaction():
            for organisation_id in organisation_ids:
                self.conn.execute(
                    "insert into sync_cursors (source, cursor_at, last_cycle_status) values (%s, %s, 'requested')"
                    " on conflict (source) do update set last_cycle_status = 'requested', updated_at = now()",
                    (source(organisation_id), EPOCH))

    def try_lock(self, organisation_id: str) -> bool:
        return bool(self.conn.execute("select pg_try_advisory_lock(%s, hashtext(%s)) as ok",
                                      (XERO_PAYMENT_POLL, organisation_id)).fetchone()["ok"])

    def unlock(self, organisation_id: str) -> None:
        self.conn.execute("select pg_advisory_unlock(%s, hashtext(%s))", (XERO_PAYMENT_POLL, organisation_id))

    # --- payments ------------------------------------------------------------------------

    def hashes(self, payment_ids: list[str]) -> dict[str, str | None]:
        if not payment_ids:
            return {}
        return {r["cw_id"]: r["content_hash"] for r in self.conn.execute(
            "select cw_id, content_hash from sync_records where record_type = %s and cw_id = any(%s)",
            (RECORD_TYPE, payment_ids))}

    def known(self, payment_id: str) -> dict | None:
        """The organisation and snapshot of a payment ingest emitted before."""
        return self.conn.execute("select organisation_id, snapshot from sync_records where record_type = %s"
                                 " and cw_id = %s", (RECORD_TYPE, payment_id)).fetchone()

    def record_emitted(self, events: list[tuple[dict, str]], observed_at: datetime) -> None:
        """(event, hash) of what was just emitted (after the producer flushed)."""
        record_changes(self.conn, [
            StatusChange(RECORD_TYPE, e["payment_id"], Event.OBSERVED, observed_at=observed_at,
                         organisation_id=e["organisation_id"], xero_id=e["payment_id"], xero_status=e["status"],
                         record_number=e.get("invoice_number"), customer=e.get("contact_name"),
                         content=Content(h, e["updated_at"], e["amount"], snapshot_of(e)))
            for e, h in events])

    def record_failed(self, payment_id: str, organisation_id: str, error: str) -> None:
        record_changes(self.conn, [StatusChange(RECORD_TYPE, payment_id, Event.UNREADABLE, error=error,
                                                organisation_id=organisation_id)])

    # --- open balances -------------------------------------------------------------------

    def save_invoice_balances(self, organisation_id: str, rows: list[dict]) -> None:
        if not rows:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "insert into xero_invoice_balances (organisation_id, xero_invoice_id, invoice_number, contact_id,"
                " contact_name, status, total, amount_due, updated_at_xero) values (%(org)s, %(xero_invoice_id)s,"
                " %(invoice_number)s, %(contact_id)s, %(contact_name)s, %(status)s, %(total)s, %(amount_due)s,"
                " %(updated_at_xero)s) on conflict (organisation_id, xero_invoice_id) do update set"
                " invoice_number = excluded.invoice_number, contact_id = excluded.contact_id,"
                " contact_name = excluded.contact_name, status = excluded.status, total = excluded.total,"
                " amount_due = excluded.amount_due, updated_at_xero = excluded.updated_at_xero, seen_at = now()"
                " where xero_invoice_balances.updated_at_xero <= excluded.updated_at_xero",
                [{**row, "org": organisation_id} for row in rows])
