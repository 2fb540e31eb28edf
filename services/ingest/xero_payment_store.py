"""Postgres for the Xero payments poll: one cursor per organisation in
`sync_cursors` (`xero:payments:<organisation id>`), the payments' hashes and
status in `sync_records` (through `record_status`), and the open balances of
Xero sales invoices (`xero_invoice_balances`, for the balance check)."""

from __future__ import annotations

import zlib
from contextlib import ExitStack
from datetime import datetime

from ..common import locks
from ..common.database import Database
from ..common.lifecycle import Event
from ..common.record_kinds import RecordKind
from ..common.record_status import Content, StatusChange, record_changes
from ..integrations.xero.client import XeroOrg
from .cursors import Cursor, Cursors
from .xero_payment_events import snapshot_of

RECORD_TYPE = RecordKind.XERO_PAYMENT.value


def _lock_key(organisation_id: str) -> int:
    """The organisation's key in the poll lock: a stable 31-bit number from its id."""
    return zlib.crc32(organisation_id.encode()) & 0x7FFFFFFF


def source(organisation_id: str) -> str:
    return f"xero:payments:{organisation_id}"


class XeroPaymentStore:
    def __init__(self, db: Database):
        self.db = db
        self.cursors = Cursors(db)
        self._locks: dict[str, ExitStack] = {}

    def close(self) -> None:
        for organisation_id in list(self._locks):
            self.unlock(organisation_id)

    def organisations(self) -> list[XeroOrg]:
        """The connected organisations, each polled on its own."""
        with self.db.connection() as conn:
            return [
                XeroOrg(r["id"], r["tenant_id"])
                for r in conn.execute("select id, tenant_id from organisations where status = 'connected' order by id")
            ]

    # --- cursors (the same rules as ConnectWise's, see cursors.py) -------------------------

    def cursor(self, organisation_id: str) -> Cursor:
        return self.cursors.get(source(organisation_id))

    def cycle_started(self, organisation_id: str, at: datetime) -> None:
        self.cursors.started(source(organisation_id), at)

    def cycle_finished(self, organisation_id: str, at: datetime, status: str, cursor_at: datetime | None) -> None:
        self.cursors.finished(source(organisation_id), at, status, cursor_at)

    def request_cycle(self, organisation_ids: list[str]) -> None:
        self.cursors.request([source(o) for o in organisation_ids])

    def try_lock(self, organisation_id: str) -> bool:
        """One poll per organisation across ingest processes: a lock held until `unlock`."""
        held = ExitStack()
        if held.enter_context(self.db.session_lock(locks.XERO_PAYMENT_POLL, _lock_key(organisation_id))) is not None:
            self._locks[organisation_id] = held
            return True
        held.close()
        return False

    def unlock(self, organisation_id: str) -> None:
        held = self._locks.pop(organisation_id, None)
        if held is not None:
            held.close()

    # --- payments ------------------------------------------------------------------------

    def hashes(self, payment_ids: list[str]) -> dict[str, str | None]:
        if not payment_ids:
            return {}
        with self.db.connection() as conn:
            return {
                r["cw_id"]: r["content_hash"]
                for r in conn.execute(
                    "select cw_id, content_hash from sync_records where record_type = %s and cw_id = any(%s)",
                    (RECORD_TYPE, payment_ids),
                )
            }

    def known(self, payment_id: str) -> dict | None:
        """The organisation and snapshot of a payment ingest emitted before."""
        with self.db.connection() as conn:
            return conn.execute(
                "select organisation_id, snapshot from sync_records where record_type = %s and cw_id = %s",
                (RECORD_TYPE, payment_id),
            ).fetchone()

    def record_emitted(self, events: list[tuple[dict, str]], observed_at: datetime) -> None:
        """(event, hash) of what was just emitted (after the producer flushed)."""
        changes = [
            StatusChange(
                RECORD_TYPE,
                e["payment_id"],
                Event.OBSERVED,
                observed_at=observed_at,
                organisation_id=e["organisation_id"],
                xero_id=e["payment_id"],
                xero_status=e["status"],
                record_number=e.get("invoice_number"),
                customer=e.get("contact_name"),
                content=Content(h, e["updated_at"], e["amount"], snapshot_of(e)),
            )
            for e, h in events
        ]
        with self.db.connection() as conn:
            record_changes(conn, changes)

    def record_failed(self, payment_id: str, organisation_id: str, error: str) -> None:
        with self.db.connection() as conn:
            record_changes(
                conn,
                [StatusChange(RECORD_TYPE, payment_id, Event.UNREADABLE, error=error, organisation_id=organisation_id)],
            )

    # --- open balances -------------------------------------------------------------------

    def save_invoice_balances(self, organisation_id: str, rows: list[dict]) -> None:
        if not rows:
            return
        with self.db.unit_of_work() as conn, conn.cursor() as cur:
            cur.executemany(
                "insert into xero_invoice_balances (organisation_id, xero_invoice_id, invoice_number, contact_id,"
                " contact_name, status, total, amount_due, updated_at_xero) values (%(org)s, %(xero_invoice_id)s,"
                " %(invoice_number)s, %(contact_id)s, %(contact_name)s, %(status)s, %(total)s, %(amount_due)s,"
                " %(updated_at_xero)s) on conflict (organisation_id, xero_invoice_id) do update set"
                " invoice_number = excluded.invoice_number, contact_id = excluded.contact_id,"
                " contact_name = excluded.contact_name, status = excluded.status, total = excluded.total,"
                " amount_due = excluded.amount_due, updated_at_xero = excluded.updated_at_xero, seen_at = now()"
                " where xero_invoice_balances.updated_at_xero <= excluded.updated_at_xero",
                [{**row, "org": organisation_id} for row in rows],
            )
