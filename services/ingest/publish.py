"""A batch of ingest events published: produced to its topic (every event acknowledged),
then recorded in `sync_records` (what was emitted, so the next poll sees no change and a
later deletion can be routed), then counted in the cycle's result. Documents and money
share it; each says which of its fields are the record's number, customer and amount."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from .store import Emitted


def publish(
    p: Any,  # the cycle's Pipeline (its module imports this one)
    record_type: str,
    events: list[dict],
    observed: datetime,
    result: Any,  # the cycle's CycleResult
    *,
    number: Callable[[dict], str],
    customer: Callable[[dict], str],
    amount: str,
    snapshot_of: Callable[[dict], dict],
) -> None:
    p.emitter.emit(record_type, events)
    p.store.record_emitted(
        [
            Emitted(
                record_type,
                str(e["cw_id"]),
                number(e),
                customer(e),
                e["content_hash"],
                e["last_updated"],
                e[amount],
                snapshot_of(e) if e["change"] == "UPSERT" else None,  # a deleted record keeps what it had
            )
            for e in events
        ],
        observed,
    )
    result.emitted += len(events)
    result.deleted += sum(1 for e in events if e["change"] == "DELETED")
    result.emitted_ids.extend(e["cw_id"] for e in events)
