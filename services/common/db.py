"""Postgres access and schema migrations.

Migrations are plain numbered SQL files in `migrations/`, applied once each in
order under an advisory lock, so every service may call `migrate` at start-up.
A migration library (alembic, yoyo) would add an ORM or a config format for
what is here twenty lines of code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from . import locks

MIGRATIONS = Path(__file__).parent / "migrations"
# Every connection of the product answers rows as dicts (column name -> value).
Conn = psycopg.Connection[DictRow]


def connect(url: str, **kwargs) -> Conn:
    return psycopg.connect(url, row_factory=dict_row, connect_timeout=5, **kwargs)


def one_row(conn: Conn, query: Any, params: Any = None) -> DictRow:
    """The row of a query that always answers one (an aggregate, an insert ... returning)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"no row where one was certain: {str(query)[:80]}")
    return row


def migrate(url: str) -> list[str]:
    """Applies pending migrations; returns the names applied now."""
    applied_now: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (locks.MIGRATIONS,))
        try:
            conn.execute(
                "create table if not exists schema_migrations (name text primary key, applied_at timestamptz not "
                "null default now())"
            )
            done = {r["name"] for r in conn.execute("select name from schema_migrations")}
            for path in sorted(MIGRATIONS.glob("*.sql")):
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("insert into schema_migrations (name) values (%s)", (path.name,))
                applied_now.append(path.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (locks.MIGRATIONS,))
    return applied_now
