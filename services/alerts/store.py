"""Exceptions in Postgres (migration 040_alerts.sql): recorded once per open
problem, counted on every repeat, marked when an email named them."""

from __future__ import annotations

import json
from datetime import date

from ..common.db import Conn, one_row
from .rules import NewException, Pending

_LIST_COLUMNS = (
    "id, kind, record_type, record_id, organisation_id, customer, message, details, audit_entry_id, "
    "source_topic, status, first_seen, last_seen, occurrences, notified_at, resolved_at, resolved_by"
)


def record_exception(conn: Conn, exc: NewException, source_topic: str) -> int | None:
    """Opens the exception or counts a repeat of the open one. Returns its id
    when this event was new, None when the event had been seen already."""
    seen = conn.execute("select 1 from exception_events where event_id = %s", (exc.event_id,)).fetchone()
    if seen:
        return None
    row = one_row(
        conn,
        """insert into exceptions (kind, record_type, record_id, organisation_id, customer, message, details,
                                   audit_entry_id, source_topic, first_seen, last_seen)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (record_type, record_id, kind, organisation_id) where status = 'open'
           do update set occurrences = exceptions.occurrences + 1,
                         last_seen = greatest(exceptions.last_seen, excluded.last_seen),
                         message = excluded.message, details = excluded.details,
                         customer = coalesce(excluded.customer, exceptions.customer),
                         audit_entry_id = excluded.audit_entry_id
           returning id""",
        (
            exc.kind,
            exc.record_type,
            exc.record_id,
            exc.organisation_id,
            exc.customer,
            exc.message,
            json.dumps(exc.details),
            exc.audit_entry_id,
            source_topic,
            exc.raised_at,
            exc.raised_at,
        ),
    )
    conn.execute("insert into exception_events (event_id, exception_id) values (%s, %s)", (exc.event_id, row["id"]))
    return row["id"]


def resolve_record(conn: Conn, record_type: str, record_id: str, by: str) -> int:
    """Resolves every open exception of a record; returns how many."""
    cur = conn.execute(
        "update exceptions set status = 'resolved', resolved_at = now(), resolved_by = %s "
        "where status = 'open' and record_type = %s and record_id = %s",
        (by, record_type, record_id),
    )
    return cur.rowcount


def pending(conn: Conn) -> list[Pending]:
    """Open exceptions no email has named, but for those an open condition of the same kind
    holds for their organisation: its one email names them (condition_store.cover_exceptions)."""
    rows = conn.execute(
        "select e.id, e.kind, e.record_type, e.first_seen from exceptions e"
        " where e.status = 'open' and e.notified_at is null and not exists ("
        "   select 1 from alert_conditions c where c.resolved_at is null and c.kind = e.kind"
        "   and c.subject = e.organisation_id)"
    ).fetchall()
    return [Pending(r["id"], r["kind"], r["record_type"], r["first_seen"]) for r in rows]


def alert_modes(conn: Conn) -> dict[str, str]:
    return {
        r["record_type"]: r["alert_mode"]
        for r in conn.execute("select record_type, alert_mode from record_type_settings")
    }


def fetch(conn: Conn, ids: list[int]) -> list[dict]:
    """Those still open and not yet emailed, locked so a second sender skips them."""
    if not ids:
        return []
    return conn.execute(
        f"select {_LIST_COLUMNS} from exceptions where id = any(%s) and status = 'open' and notified_at is null "
        f"order by record_type, first_seen, id for update skip locked",
        (ids,),
    ).fetchall()


def mark_notified(conn: Conn, ids: list[int]) -> None:
    conn.execute("update exceptions set notified_at = now() where id = any(%s)", (ids,))


def last_digest(conn: Conn) -> date | None:
    row = conn.execute("select max(day) as day from alert_digests").fetchone()
    return row["day"] if row else None


def record_digest(conn: Conn, day: date, count: int) -> None:
    conn.execute(
        "insert into alert_digests (day, exceptions) values (%s, %s) on conflict (day) do nothing", (day, count)
    )
