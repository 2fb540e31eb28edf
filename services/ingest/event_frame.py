"""The fields every ConnectWise event carries, whatever its record: which record, why
and when it was emitted, and its content hash; and a DELETED event's frame, which
carries the fields `sync_records` kept of the record (its snapshot) with no money.
Invoices, purchase orders and money each add their own fields. No I/O here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .poller import DELETED_PREFIX, last_updated


@dataclass(frozen=True)
class Reading:
    """Why and when a record was read, and its content hash where the cycle has
    already worked it out (a conversion works it out itself otherwise)."""

    trigger: str = "SCHEDULE"
    observed_at: datetime | None = None
    content_hash: str | None = None


SCHEDULED_NOW = Reading()  # a scheduled read, observed as the event is made


@dataclass(frozen=True)
class Gone:
    """A record ConnectWise no longer has: its id, what `sync_records` kept of it
    (its snapshot, number and last change) and why and when that was found."""

    cw_id: int | str
    snapshot: dict | None
    observed_at: datetime
    last_seen: datetime | None = None
    number: str | None = None
    trigger: str = "SCHEDULE"
    known: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", dict(self.snapshot or {}))

    @classmethod
    def from_row(cls, row: dict, *, observed_at: datetime, trigger: str, cw_id: int | str | None = None) -> Gone:
        """From a `sync_records` row (`cw_id`, `snapshot`, `last_updated`, `record_number`)."""
        return cls(
            row["cw_id"] if cw_id is None else cw_id,
            row.get("snapshot"),
            observed_at,
            last_seen=row.get("last_updated"),
            number=row.get("record_number"),
            trigger=trigger,
        )

    def number_from(self, name: str) -> str:
        """The record's number as last kept, else as `sync_records` numbered it."""
        return str(self.known.get(name) or self.number or "")


def upsert_frame(record_type: str, cw_id: Any, record: dict, reading: Reading, hash_of: Callable[[], str]) -> dict:
    """The frame of an UPSERT event; `hash_of` works out the hash where `reading` has none."""
    return {
        "record_type": record_type,
        "cw_id": int(cw_id),
        "trigger": reading.trigger,
        "change": "UPSERT",
        "observed_at": reading.observed_at or datetime.now(timezone.utc),
        "last_updated": last_updated(record),
        "content_hash": reading.content_hash or hash_of(),
    }


def deleted_frame(record_type: str, gone: Gone, snapshot_fields: tuple[str, ...]) -> dict:
    cw_id = int(gone.cw_id)
    return {
        **{name: gone.known.get(name) for name in snapshot_fields},
        "record_type": record_type,
        "cw_id": cw_id,
        "trigger": gone.trigger,
        "change": "DELETED",
        "observed_at": gone.observed_at,
        "last_updated": gone.last_seen or gone.observed_at,
        # One hash for every deletion of a record: a repeated deletion is no change.
        "content_hash": DELETED_PREFIX + hashlib.sha256(f"{record_type}|{cw_id}".encode()).hexdigest(),
        "custom_fields": list(gone.known.get("custom_fields") or []),
        "raw": json.dumps({"id": cw_id, "deleted": True}),
    }


def pick(event: dict, fields: tuple[str, ...]) -> dict:
    """What `sync_records` keeps of an emitted record, so its deletion can be routed later."""
    return {name: event.get(name) for name in fields}
