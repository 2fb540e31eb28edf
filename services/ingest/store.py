"""Postgres adapter of ingest: content hashes and status in `sync_records`, the
poll cursor and cycle bookkeeping in `sync_cursors`, cadence from
`record_type_settings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable

from contextlib import ExitStack

from ..common import locks
from ..common.database import Database
from ..common.lifecycle import Event
from ..common.record_kinds import RECORD_TYPES
from ..common.record_status import Content, StatusChange, record_changes
from .cursors import Cursor, Cursors
from .poller import DELETED_PREFIX


def source(record_type: str) -> str:
    return f"cw:{record_type}"


@dataclass(frozen=True)
class Emitted:
    """What `sync_records` keeps of a record ingest emitted."""

    record_type: str
    cw_id: str
    number: str
    customer: str
    content_hash: str
    last_updated: datetime
    total: Decimal
    snapshot: dict | None = None


class Store:
    def __init__(self, db: Database):
        self.db = db
        self.cursors = Cursors(db)
        self._locks: dict[str, ExitStack] = {}

    def close(self) -> None:
        for record_type in list(self._locks):
            self.unlock(record_type)

    # --- cursors ---------------------------------------------------------------

    def cursor(self, record_type: str) -> Cursor:
        return self.cursors.get(source(record_type))

    def cycle_started(self, record_type: str, at: datetime) -> None:
        self.cursors.started(source(record_type), at)

    def cycle_finished(
        self, record_type: str, at: datetime, status: str, cursor_at: datetime | None, error: str | None = None
    ) -> None:
        self.cursors.finished(source(record_type), at, status, cursor_at, error)

    def progress(self, record_type: str, seen: int, total: int | None) -> None:
        self.cursors.progress(source(record_type), seen, total)

    def request_cycle(self, record_type: str) -> None:
        self.cursors.request([source(record_type)])

    def cadence_minutes(self) -> dict[str, int]:
        with self.db.connection() as conn:
            rows = conn.execute("select record_type, cadence_minutes from record_type_settings").fetchall()
        return {r["record_type"]: int(r["cadence_minutes"]) for r in rows}

    def try_lock(self, record_type: str) -> bool:
        """One cycle per record type across ingest processes: a lock held until `unlock`."""
        held = ExitStack()
        if held.enter_context(self.db.session_lock(locks.INGEST_CYCLE, RECORD_TYPES.index(record_type))) is not None:
            self._locks[record_type] = held
            return True
        held.close()
        return False

    def unlock(self, record_type: str) -> None:
        held = self._locks.pop(record_type, None)
        if held is not None:
            held.close()

    # --- records ---------------------------------------------------------------

    def hashes(self, record_type: str, cw_ids: Iterable[str]) -> dict[str, str | None]:
        ids = list(cw_ids)
        if not ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "select cw_id, content_hash from sync_records where record_type = %s and cw_id = any(%s)",
                (record_type, ids),
            ).fetchall()
        return {r["cw_id"]: r["content_hash"] for r in rows}

    def record_emitted(self, records: list[Emitted], emitted_at: datetime | None = None) -> None:
        """Records what was just emitted (after the producer flushed), as observed at `emitted_at`."""
        at = emitted_at or datetime.now(timezone.utc)
        changes = [
            StatusChange(
                r.record_type,
                r.cw_id,
                Event.OBSERVED,
                observed_at=at,
                record_number=r.number,
                customer=r.customer,
                content=Content(r.content_hash, r.last_updated, r.total, r.snapshot),
            )
            for r in records
        ]
        with self.db.connection() as conn:
            record_changes(conn, changes)

    def live(self, record_type: str) -> dict[str, dict]:
        """Records emitted and not known deleted: cw_id -> {number, last_updated, snapshot}."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "select cw_id, record_number, last_updated, snapshot from sync_records where record_type = %s"
                " and content_hash is not null and content_hash not like %s",
                (record_type, DELETED_PREFIX + "%"),
            ).fetchall()
        return {r["cw_id"]: r for r in rows}

    def payments_by_invoice(self, record_type: str, invoice_ids: list[int]) -> dict[int, dict[str, dict]]:
        """Live money of `record_type` (payment or refund) ingest emitted, by the invoice it is
        listed under (kept in the snapshot)."""
        if not invoice_ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "select cw_id, content_hash, snapshot, record_number, last_updated,"
                " (snapshot->>'invoice_id')::bigint as invoice_id from sync_records"
                " where record_type = %s and content_hash is not null and content_hash not like %s"
                " and (snapshot->>'invoice_id')::bigint = any(%s)",
                (str(record_type), DELETED_PREFIX + "%", list(invoice_ids)),
            ).fetchall()
        found: dict[int, dict[str, dict]] = {}
        for row in rows:
            found.setdefault(int(row["invoice_id"]), {})[row["cw_id"]] = row
        return found

    def known(self, record_type: str, cw_id: str) -> dict | None:
        with self.db.connection() as conn:
            return conn.execute(
                "select cw_id, record_number, last_updated, snapshot, content_hash from sync_records"
                " where record_type = %s and cw_id = %s",
                (record_type, cw_id),
            ).fetchone()

    def record_failed(self, record_type: str, cw_id: str, error: str) -> None:
        """A record that could not be converted: failed, and read again next cycle."""
        with self.db.connection() as conn:
            record_changes(conn, [StatusChange(record_type, cw_id, Event.UNREADABLE, error=error)])
