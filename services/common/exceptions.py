"""The exceptions table as other services see it: listed with filters and resolved
by a person (the admin API). The alerts service records exceptions and emails them
(`services/alerts/store.py`); this is the public side of the same table."""

from __future__ import annotations

from datetime import datetime

import psycopg

from .db import Conn

_LIST_COLUMNS = (
    "id, kind, record_type, record_id, organisation_id, customer, message, details, audit_entry_id, "
    "source_topic, status, first_seen, last_seen, occurrences, notified_at, resolved_at, resolved_by"
)


def list_exceptions(
    conn: Conn,
    status: str | None = "open",
    record_type: str | None = None,
    organisation: str | None = None,
    limit: int = 500,
) -> list[dict]:
    clauses, params = [], []
    for column, value in (("status", status), ("record_type", record_type), ("organisation_id", organisation)):
        if value:
            clauses.append(f"{column} = %s")
            params.append(value)
    where = " and ".join(clauses) or "true"
    return conn.execute(
        f"select {_LIST_COLUMNS} from exceptions where {where} order by last_seen desc, id desc limit %s",
        (*params, limit),
    ).fetchall()


def resolve(conn: Conn, exception_id: int, by: str) -> dict | None:
    return conn.execute(
        f"update exceptions set status = 'resolved', resolved_at = now(), resolved_by = %s "
        f"where id = %s and status = 'open' returning {_LIST_COLUMNS}",
        (by, exception_id),
    ).fetchone()


def as_json(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


COLUMNS = _LIST_COLUMNS  # what every reader of the table selects


def reopen(conn: Conn, exception_id: int) -> dict | None:
    """Opens again an exception a person resolved too soon. None when it is not resolved, or when
    the record has since raised the same problem anew (that open exception is the one to follow)."""
    try:
        return conn.execute(
            f"update exceptions set status = 'open', resolved_at = null, resolved_by = null "
            f"where id = %s and status = 'resolved' returning {_LIST_COLUMNS}",
            (exception_id,),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        return None
