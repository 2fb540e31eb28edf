"""The fields every ConnectWise event carries, whatever its record: which record, why
and when it was emitted, and its content hash; and a DELETED event's frame, which
carries the fields `sync_records` kept of the record (its snapshot) with no money.
Invoices, purchase orders and money each add their own fields. No I/O here."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from .poller import DELETED_PREFIX, last_updated


def upsert_frame(
    record_type: str, cw_id: Any, record: dict, *, trigger: str, observed_at: datetime | None, content_hash: str
) -> dict:
    return {
        "record_type": record_type,
        "cw_id": int(cw_id),
        "trigger": trigger,
        "change": "UPSERT",
        "observed_at": observed_at or datetime.now(timezone.utc),
        "last_updated": last_updated(record),
        "content_hash": content_hash,
    }


def deleted_frame(
    record_type: str,
    cw_id: Any,
    snapshot: dict | None,
    snapshot_fields: tuple[str, ...],
    *,
    observed_at: datetime,
    last_seen: datetime | None,
    trigger: str,
) -> dict:
    known = dict(snapshot or {})
    return {
        **{name: known.get(name) for name in snapshot_fields},
        "record_type": record_type,
        "cw_id": int(cw_id),
        "trigger": trigger,
        "change": "DELETED",
        "observed_at": observed_at,
        "last_updated": last_seen or observed_at,
        # One hash for every deletion of a record: a repeated deletion is no change.
        "content_hash": DELETED_PREFIX + hashlib.sha256(f"{record_type}|{cw_id}".encode()).hexdigest(),
        "custom_fields": list(known.get("custom_fields") or []),
        "raw": json.dumps({"id": int(cw_id), "deleted": True}),
    }


def pick(event: dict, fields: tuple[str, ...]) -> dict:
    """What `sync_records` keeps of an emitted record, so its deletion can be routed later."""
    return {name: event.get(name) for name in fields}
