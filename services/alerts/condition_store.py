"""Condition episodes in Postgres (migration 075_alert_conditions.sql): opened when a condition
starts to hold, kept up to date while it does, resolved when it stops; each email that tells
of one is marked, so nothing is said twice and nothing unsaid is forgotten."""

from __future__ import annotations

import json
from datetime import datetime

from ..common.db import Conn
from .conditions import SENDS_RECOVERY, Condition

_COLUMNS = "id, kind, subject, message, details, opened_at, last_seen, resolved_at, notified_at, recovery_notified_at"


def open_episodes(conn: Conn) -> list[dict]:
    return conn.execute(f"select {_COLUMNS} from alert_conditions where resolved_at is null order by id").fetchall()


def reconcile(conn: Conn, holding: list[Condition], now: datetime) -> tuple[int, int]:
    """Opens an episode for each condition that holds anew, refreshes those still holding and
    resolves those that stopped. Returns (opened, resolved)."""
    current = {(row["kind"], row["subject"]): row for row in open_episodes(conn)}
    opened = 0
    for condition in holding:
        row = current.pop(condition.key, None)
        if row is None:
            conn.execute(
                "insert into alert_conditions (kind, subject, message, details, opened_at, last_seen)"
                " values (%s, %s, %s, %s, %s, %s) on conflict do nothing",
                (condition.kind, condition.subject, condition.message, json.dumps(condition.details), now, now),
            )
            opened += 1
        else:
            conn.execute(
                "update alert_conditions set message = %s, details = %s, last_seen = %s where id = %s",
                (condition.message, json.dumps(condition.details), now, row["id"]),
            )
    for row in current.values():
        conn.execute(
            "update alert_conditions set resolved_at = %s where id = %s and resolved_at is null", (now, row["id"])
        )
    return opened, len(current)


def unsent(conn: Conn) -> list[dict]:
    """Episodes owed an email, oldest first: one that began and was not told yet (or began and
    ended while mail could not go out), and an outage that ended after its start was told."""
    return conn.execute(
        f"select {_COLUMNS} from alert_conditions"
        " where (notified_at is null and (resolved_at is null or kind = any(%(recovery)s)))"
        "    or (resolved_at is not null and notified_at is not null and recovery_notified_at is null"
        "        and kind = any(%(recovery)s))"
        " order by id",
        {"recovery": sorted(SENDS_RECOVERY)},
    ).fetchall()


def mark_sent(conn: Conn, episode: dict, now: datetime) -> None:
    """The email about this episode went out: its start, and its end too if it has ended."""
    conn.execute(
        "update alert_conditions set notified_at = coalesce(notified_at, %(now)s),"
        " recovery_notified_at = case when resolved_at is not null then %(now)s end where id = %(id)s",
        {"now": now, "id": episode["id"]},
    )


def drop_unsaid(conn: Conn) -> None:
    """An episode of a kind without a recovery email that ended before it was told needs no email
    (a token renewed before the warning went out): it is marked so no one waits on it."""
    conn.execute(
        "update alert_conditions set notified_at = resolved_at where notified_at is null"
        " and resolved_at is not null and not (kind = any(%s))",
        (sorted(SENDS_RECOVERY),),
    )


def cover_exceptions(conn: Conn) -> int:
    """Per-record exceptions of the same kind and organisation as an open episode already told are
    named by its email: they are marked notified, not emailed each. Returns how many."""
    return conn.execute(
        "update exceptions e set notified_at = c.notified_at from alert_conditions c"
        " where e.status = 'open' and e.notified_at is null and c.resolved_at is null and c.notified_at is not null"
        " and c.kind = e.kind and c.subject = e.organisation_id"
    ).rowcount


def waiting_records(conn: Conn, kind: str, organisation_id: str, limit: int = 20) -> list[dict]:
    """Some of the records an organisation-wide episode holds up, for its email."""
    return conn.execute(
        "select record_type, record_id from exceptions where status = 'open' and kind = %s and organisation_id = %s"
        " order by first_seen, id limit %s",
        (kind, organisation_id, limit),
    ).fetchall()
