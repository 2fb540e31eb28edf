"""The Postgres adapter of ingest against real Postgres."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

from services.common.database import Database
from services.ingest.store import Emitted, Store


def emitted(hash_: str) -> Emitted:
    return Emitted("invoice", "77", "INV-77", "Acme", hash_, datetime(2026, 11, 1, tzinfo=timezone.utc),
                   Decimal("10.00"), {"location_id": 2})


def test_an_outcome_the_writer_recorded_first_is_kept(fresh_database):
    store = Store(Database(fresh_database))
    emitted_at = datetime.now(timezone.utc) - timedelta(seconds=5)
    # the writer got the event and recorded its outcome before ingest's own upsert landed
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into sync_records (record_type, cw_id, status, xero_id, organisation_id, updated_at)"
                     " values ('invoice', '77', 'synced', 'x-77', 'org-a', now())")
    store.record_emitted([emitted("h1")], emitted_at)
    row = one_row(fresh_database)
    assert (row["status"], row["content_hash"], row["xero_id"]) == ("synced", "h1", "x-77")
    assert row["snapshot"] == {"location_id": 2}
    # a later edit is pending again until the writer says otherwise
    store.record_emitted([emitted("h2")], datetime.now(timezone.utc) + timedelta(seconds=1))
    row = one_row(fresh_database)
    assert (row["status"], row["content_hash"], row["organisation_id"]) == ("pending", "h2", "org-a")
    store.close()


def test_run_requested_during_a_cycle_survives_its_end(fresh_database):
    store = Store(Database(fresh_database))
    now = datetime.now(timezone.utc)
    store.cycle_started("invoice", now)
    store.request_cycle("invoice")
    store.cycle_finished("invoice", now, "ok", now - timedelta(hours=1))
    cursor = store.cursor("invoice")
    assert cursor.last_cycle_status == "requested" and cursor.cursor_at == now - timedelta(hours=1)
    store.cycle_started("invoice", now)
    store.cycle_finished("invoice", now, "ok", now - timedelta(hours=2))
    cursor = store.cursor("invoice")
    assert cursor.last_cycle_status == "ok" and cursor.cursor_at == now - timedelta(hours=1)  # never backwards
    store.close()


def one_row(url):
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("select * from sync_records where cw_id = '77'").fetchone()
