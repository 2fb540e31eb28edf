"""The history of configuration changes: who, when, before and after.

Its highest `seq` is also the configuration version: the mapper reloads its
snapshot when it moves, and the outbox publisher (changes.py) sends each row
on config.changes.v1.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal


def _jsonable(row: dict | None) -> dict | None:
    if row is None:
        return None
    out = {}
    for k, v in row.items():
        out[k] = v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v
    return out


def record_change(
    conn, table: str, key: str, action: str, actor: str | None, before: dict | None, after: dict | None
) -> dict:
    change = {
        "change_id": str(uuid.uuid4()),
        "table": table,
        "key": key,
        "action": action,
        "actor": actor,
        "before": _jsonable(before),
        "after": _jsonable(after),
    }
    row = conn.execute(
        "insert into config_changes (change_id, table_name, key, action, actor, before, after)"
        " values (%s, %s, %s, %s, %s, %s, %s) returning seq, changed_at",
        (
            change["change_id"],
            table,
            key,
            action,
            actor,
            json.dumps(change["before"]) if before is not None else None,
            json.dumps(change["after"]) if after is not None else None,
        ),
    ).fetchone()
    change.update(seq=row["seq"], changed_at=row["changed_at"])
    return change


def list_changes(conn, table: str | None = None, limit: int = 100, before_seq: int | None = None) -> list[dict]:
    rows = conn.execute(
        "select seq, change_id, table_name as table, key, action, actor, before, after, changed_at from config_changes"
        " where (%(t)s::text is null or table_name = %(t)s) and (%(b)s::bigint is null or seq < %(b)s)"
        " order by seq desc limit %(n)s",
        {"t": table, "b": before_seq, "n": limit},
    ).fetchall()
    return [dict(r, change_id=str(r["change_id"])) for r in rows]


def changes_since(conn, seq: int) -> list[dict]:
    rows = conn.execute(
        "select seq, change_id, table_name as table, key, action, actor, before, after, changed_at from config_changes"
        " where seq > %s order by seq",
        (seq,),
    ).fetchall()
    return [dict(r, change_id=str(r["change_id"])) for r in rows]


def config_version(conn) -> int:
    return conn.execute("select coalesce(max(seq), 0) as v from config_changes").fetchone()["v"]
