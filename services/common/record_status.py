"""`sync_records`, where each record stands, written only through here.

Services report `StatusChange`s; `record_changes` locks the rows, lets the rule
in `lifecycle.py` decide each status, and stores the result with the facts the
change carries. Which facts a change may set follows from what its reporter
knows: ingest owns the record's content (number, customer, hash, totals);
anything about the other system (its id, its status) is kept whenever it is
reported, even on a stale event, because it is true of that system now; when
Xero's state of the record changes, `xero_status_changed_at` says when.
`xero_state` builds the change a webhook reports (see lifecycle.py's facts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from psycopg.types.json import Jsonb

from .db import Conn
from .lifecycle import Event, State, Status, millis, next_state

ERROR_LIMIT = 2000
_COLUMNS = (
    "record_type",
    "cw_id",
    "record_number",
    "customer",
    "content_hash",
    "last_updated",
    "status",
    "organisation_id",
    "xero_id",
    "xero_status",
    "last_error",
    "total",
    "emitted_at",
    "snapshot",
    "status_observed_at",
    "status_changed_at",
    "xero_status_changed_at",
)


@dataclass(frozen=True)
class Content:
    """What ingest read: only an OBSERVED change carries it."""

    content_hash: str
    last_updated: datetime | None
    total: Decimal | None
    snapshot: dict | None = None


@dataclass(frozen=True)
class StatusChange:
    record_type: str
    cw_id: str
    event: Event
    observed_at: datetime | None = None  # the observation this is about (see lifecycle.py)
    error: str | None = None
    organisation_id: str | None = None
    xero_id: str | None = None
    xero_status: str | None = None
    record_number: str | None = None
    customer: str | None = None
    content: Content | None = None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.record_type), str(self.cw_id))


def apply(row: dict | None, change: StatusChange) -> dict:
    """The row after `change` (pure): `row` is the current one, or None."""
    new = dict(row) if row else {name: None for name in _COLUMNS}
    new["record_type"], new["cw_id"] = change.key
    current = State(Status(row["status"]), row["status_observed_at"]) if row else None
    state = next_state(current, change.event, change.observed_at)
    stale = (
        change.observed_at is not None
        and current is not None
        and current.observed_at is not None
        and millis(change.observed_at) < millis(current.observed_at)
    )
    if state is not None:
        if new["status"] != state.status:
            new["status_changed_at"] = change.at
        new["status"], new["status_observed_at"] = state.status.value, state.observed_at
        new["last_error"] = change.error[:ERROR_LIMIT] if change.error else None
    elif new["status"] is None:
        new["status"] = Status.PENDING.value
    elif new["status_observed_at"] is None and change.observed_at is not None:
        # A status stored without its observation (before they were kept) is about this one at least.
        new["status_observed_at"] = millis(change.observed_at)
    if change.event is Event.OBSERVED and not stale and change.content is not None:
        content = change.content
        new.update(
            content_hash=content.content_hash,
            last_updated=content.last_updated,
            total=content.total,
            emitted_at=millis(change.observed_at) or change.at,
        )
        if content.snapshot is not None:
            new["snapshot"] = content.snapshot
        new["record_number"] = change.record_number or new["record_number"]
        new["customer"] = change.customer or new["customer"]
    else:
        # Others fill in what ingest has not told yet (their event may arrive first).
        new["record_number"] = new["record_number"] or change.record_number
        new["customer"] = new["customer"] or change.customer
    if change.event is Event.UNREADABLE:
        new["content_hash"] = None  # read it again next cycle
    if change.organisation_id and (not stale or change.event is Event.WRITTEN):
        new["organisation_id"] = change.organisation_id
    if change.xero_id:
        new["xero_id"] = change.xero_id
    if change.xero_status:
        _set_xero_status(new, change)
    return new


def _set_xero_status(new: dict, change: StatusChange) -> None:
    """Xero's state, stamped when it changes. Stamps are this side's clock (when the change was
    learned): Xero's clock is not comparable with ours, and what a webhook reports is read from
    Xero at that moment, so the newest report is the truth."""
    if change.xero_status != new["xero_status"]:
        new["xero_status"], new["xero_status_changed_at"] = change.xero_status, change.at


def xero_state(
    record_type: str,
    cw_id: str,
    xero_status: str,
    *,
    organisation_id: str,
    xero_id: str,
    disagreement: str | None = None,
    at: datetime | None = None,
) -> StatusChange:
    """Xero's new state of a record we wrote, as a webhook reported it: a fact that leaves the
    status alone, or, with `disagreement` (we wrote it and someone voided or deleted it in
    Xero), an exception, so the next cycle does not overwrite what the books now say."""
    event = Event.RAISED if disagreement else Event.XERO_STATE
    return StatusChange(
        record_type,
        str(cw_id),
        event,
        error=disagreement,
        organisation_id=organisation_id,
        xero_id=xero_id,
        xero_status=xero_status,
        at=at or datetime.now(timezone.utc),
    )


def record_changes(conn: Conn, changes: list[StatusChange]) -> None:
    """Applies `changes` in order, in one transaction; rows are locked in key order so
    services recording at once never deadlock."""
    if not changes:
        return
    keys = sorted({c.key for c in changes})
    with conn.transaction():
        # Rows first, in key order: a service recording the same new record meanwhile waits
        # here for this transaction, then reads what it stored (no lost update, no deadlock).
        created = {
            (r["record_type"], r["cw_id"])
            for r in conn.execute(
                "insert into sync_records (record_type, cw_id) select * from unnest(%s::text[], %s::text[]) as k(t, i)"
                " order by t, i on conflict do nothing returning record_type, cw_id",
                ([k[0] for k in keys], [k[1] for k in keys]),
            ).fetchall()
        }
        rows = conn.execute(
            f"select {', '.join(_COLUMNS)} from sync_records where (record_type, cw_id) in "
            "(select * from unnest(%s::text[], %s::text[])) order by record_type, cw_id for update",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
        current: dict[tuple[str, str], dict | None] = {
            (r["record_type"], r["cw_id"]): None if (r["record_type"], r["cw_id"]) in created else dict(r) for r in rows
        }
        for change in changes:
            current[change.key] = apply(current.get(change.key), change)
        # One statement for every row (arrays, one per column): a page of a thousand records
        # costs one round trip, not a thousand.
        rows_out = [row for k in keys if (row := current[k]) is not None]  # every key had a change
        columns = [[_value(name, row.get(name)) for row in rows_out] for name in _COLUMNS]
        conn.execute(_UPDATE, [datetime.now(timezone.utc), *columns])


def _value(name: str, value):
    return Jsonb(value) if name == "snapshot" and value is not None else value


_TYPES = {
    "last_updated": "timestamptz",
    "total": "numeric",
    "emitted_at": "timestamptz",
    "snapshot": "jsonb",
    "status_observed_at": "timestamptz",
    "status_changed_at": "timestamptz",
    "xero_status_changed_at": "timestamptz",
}
_UPDATE = (
    "update sync_records as s set "
    + ", ".join(f"{name} = v.{name}" for name in _COLUMNS[2:])
    + ", updated_at = %s"
    + " from unnest("
    + ", ".join(f"%s::{_TYPES.get(name, 'text')}[]" for name in _COLUMNS)
    + ")"
    + f" as v({', '.join(_COLUMNS)}) where s.record_type = v.record_type and s.cw_id = v.cw_id"
)
