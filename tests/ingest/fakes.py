"""In-memory stand-ins for ingest's ports, so the cycle's logic is tested without
Postgres, a broker or HTTP (the adapters have their own tests against the real parts).

`FakeStore` keeps what `store.Store` keeps; `FakeConnectWise` serves purchase orders
and their lines from plain dicts, as ConnectWise's JSON has them; `CollectingEmitter`
keeps what would be produced."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.ingest.poller import DELETED_PREFIX, EPOCH
from services.ingest.cursors import Cursor
from services.ingest.store import Emitted


@dataclass
class FakeStore:
    records: dict[tuple[str, str], dict] = field(default_factory=dict)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)

    def cursor(self, record_type: str) -> Cursor:
        return self.cursors.get(record_type, Cursor(EPOCH, None, None, None))

    def cycle_started(self, record_type: str, at: datetime) -> None:
        c = self.cursor(record_type)
        self.cursors[record_type] = Cursor(c.cursor_at, at, c.last_cycle_finished, "running")

    def cycle_finished(self, record_type: str, at: datetime, status: str, cursor_at: datetime | None,
                       error: str | None = None) -> None:
        c = self.cursor(record_type)
        moved = max(c.cursor_at, cursor_at) if cursor_at else c.cursor_at
        self.cursors[record_type] = Cursor(moved, c.last_cycle_started, at, status)

    def progress(self, record_type: str, seen: int, total: int | None) -> None:
        pass

    def try_lock(self, record_type: str) -> bool:
        if record_type in self.locked:
            return False
        self.locked.add(record_type)
        return True

    def unlock(self, record_type: str) -> None:
        self.locked.discard(record_type)

    def hashes(self, record_type: str, cw_ids) -> dict[str, str | None]:
        return {i: self.records[(record_type, i)]["content_hash"] for i in cw_ids if (record_type, i) in self.records}

    def record_emitted(self, records: list[Emitted], emitted_at: datetime | None = None) -> None:
        for r in records:
            known = self.records.get((r.record_type, r.cw_id), {})
            self.records[(r.record_type, r.cw_id)] = {
                "cw_id": r.cw_id, "record_number": r.number, "content_hash": r.content_hash, "status": "pending",
                "last_updated": r.last_updated, "snapshot": r.snapshot or known.get("snapshot")}

    def record_failed(self, record_type: str, cw_id: str, error: str) -> None:
        self.records[(record_type, cw_id)] = {"cw_id": cw_id, "content_hash": None, "status": "failed", "error": error}

    def live(self, record_type: str) -> dict[str, dict]:
        return {i: r for (t, i), r in self.records.items() if t == record_type and r.get("content_hash")
                and not r["content_hash"].startswith(DELETED_PREFIX)}

    def known(self, record_type: str, cw_id: str) -> dict | None:
        return self.records.get((record_type, cw_id))


@dataclass
class FakeConnectWise:
    """Purchase orders by id and their lines; every read is counted."""

    orders: dict[int, dict] = field(default_factory=dict)
    lines: dict[int, list[dict]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def count(self, path: str, conditions: str | None = None) -> int:
        self.calls.append(f"count {path}")
        return len(self.orders)

    def pages(self, path: str, conditions: str | None = None, tags: dict | None = None, page_size: int = 2):
        self.calls.append(f"pages {path}")
        ordered = [self.orders[i] for i in sorted(self.orders)]
        for start in range(0, len(ordered), page_size):
            yield ordered[start:start + page_size]

    def all(self, path: str, conditions: str | None = None, fields: str | None = None, tags: dict | None = None):
        self.calls.append(f"all {path}")
        if path.endswith("/lineitems"):
            return list(self.lines.get(int(path.split("/")[-2]), []))
        return [{"id": i} for i in sorted(self.orders)] if fields == "id" else list(self.orders.values())
