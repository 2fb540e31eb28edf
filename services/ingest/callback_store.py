"""Postgres reads of the callback path (`sync_records`, and the writer's ledger through
`common/written.py` for writes in flight): what ingest last emitted of the hinted
records, the money it emitted under their invoices, and which of them are still on
their way to Xero."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..common.database import Database
from ..common.written import writes_in_flight
from .poller import DELETED_PREFIX

# Between ingest emitting a record and the writer storing its outcome.
IN_FLIGHT_STATUSES = ("pending", "mapped")


class CallbackStore:
    def __init__(self, db: Database):
        self.db = db

    def last_seen(self, record_types: tuple[str, ...], cw_ids: list[int]) -> dict[tuple[str, str], datetime | None]:
        """(record type, ConnectWise id) -> the lastUpdated of the content ingest last emitted."""
        if not cw_ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "select record_type, cw_id, last_updated from sync_records where record_type = any(%s)"
                " and cw_id = any(%s) and content_hash is not null",
                (list(record_types), [str(i) for i in cw_ids]),
            ).fetchall()
        return {(r["record_type"], r["cw_id"]): r["last_updated"] for r in rows}

    def live(self, record_type: str, cw_ids: list[int]) -> list[dict]:
        """Those of `cw_ids` ingest emitted and does not know deleted (rows as `Store.live` gives them)."""
        if not cw_ids:
            return []
        with self.db.connection() as conn:
            return conn.execute(
                "select cw_id, record_number, last_updated, snapshot from sync_records where record_type = %s"
                " and cw_id = any(%s) and content_hash is not null and content_hash not like %s",
                (record_type, [str(i) for i in cw_ids], DELETED_PREFIX + "%"),
            ).fetchall()

    def money_emitted(self, record_type: str, invoice_ids: list[int]) -> dict[int, Decimal]:
        """invoice id -> the sum of the live money of `record_type` (payment or refund) ingest
        emitted under it."""
        if not invoice_ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "select (snapshot->>'invoice_id')::bigint as invoice_id, sum(total) as total from sync_records"
                " where record_type = %s and content_hash is not null and content_hash not like %s"
                " and (snapshot->>'invoice_id')::bigint = any(%s) group by 1",
                (record_type, DELETED_PREFIX + "%", list(invoice_ids)),
            ).fetchall()
        return {int(r["invoice_id"]): Decimal(r["total"] or 0) for r in rows}

    def writes_in_flight(self, record_types: tuple[str, ...], cw_ids: list[int]) -> set[int]:
        """Those of `cw_ids` whose last emitted change is not written yet: still to be decided by
        the mapper, on its way to the writer, or in a call whose outcome is not stored."""
        if not cw_ids:
            return set()
        ids = [str(i) for i in cw_ids]
        with self.db.connection() as conn:
            rows = conn.execute(
                "select cw_id from sync_records where record_type = any(%s) and cw_id = any(%s) and status = any(%s)",
                (list(record_types), ids, list(IN_FLIGHT_STATUSES)),
            ).fetchall()
            writing = writes_in_flight(conn, record_types, ids)
        return {int(r["cw_id"]) for r in rows} | {int(i) for i in writing}
