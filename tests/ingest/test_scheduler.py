"""When a cycle is due (pure), cadence read from Postgres on every tick, and command parsing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from services.common.database import Database
from services.common.commands import CommandError, parse_command
from services.ingest.cycle import Emitter, Pipeline
from services.ingest.scheduler import Scheduler, is_due
from services.ingest.sources import POLLED_TYPES
from services.ingest.cursors import Cursor
from services.ingest.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
RETRY = timedelta(minutes=5)


def cursor(status, started=None, finished=None) -> Cursor:
    return Cursor(NOW - 10 * HOUR, started, finished, status)


def test_is_due():
    assert is_due(cursor(None), 6 * HOUR, NOW, RETRY)  # never ran
    assert is_due(cursor("requested", NOW, NOW), 6 * HOUR, NOW, RETRY)  # RUN_CYCLE
    assert is_due(cursor("running", NOW - 2 * HOUR), 6 * HOUR, NOW, RETRY)  # killed mid-cycle: resume
    assert is_due(cursor("interrupted", NOW - 2 * HOUR, NOW - HOUR), 6 * HOUR, NOW, RETRY)  # stopped: resume
    assert not is_due(cursor("ok", NOW - 5 * HOUR, NOW - 5 * HOUR), 6 * HOUR, NOW, RETRY)
    assert is_due(cursor("ok", NOW - 6 * HOUR, NOW - 5 * HOUR), 6 * HOUR, NOW, RETRY)
    assert not is_due(cursor("failed", NOW - 10 * HOUR, NOW - timedelta(minutes=4)), 6 * HOUR, NOW, RETRY)
    assert is_due(cursor("failed", NOW - 10 * HOUR, NOW - timedelta(minutes=5)), 6 * HOUR, NOW, RETRY)


def test_parse_command_names_what_is_wrong():
    base = {"command_id": "c1", "record_type": "invoice", "record_id": None, "window_from": None, "window_to": None}
    assert parse_command({**base, "action": "RUN_CYCLE"}).action == "RUN_CYCLE"
    with pytest.raises(CommandError, match="record_id"):
        parse_command({**base, "action": "FORCE_SYNC"})
    with pytest.raises(CommandError, match="window"):
        parse_command({**base, "action": "REPLAY", "window_from": NOW})
    with pytest.raises(CommandError, match="window_from"):
        parse_command({**base, "action": "REPLAY", "window_from": NOW, "window_to": NOW - HOUR})
    with pytest.raises(CommandError, match="action"):
        parse_command({**base, "action": "EXPLODE"})
    naive = parse_command({**base, "action": "REPLAY", "window_from": datetime(2026, 1, 1), "window_to": datetime(2026, 1, 2)})
    assert naive.window_from.tzinfo is not None


def test_cadence_change_in_postgres_applies_on_the_next_tick(fresh_database):
    clock_now = datetime.now(timezone.utc)
    store = Store(Database(fresh_database))
    ran: list[str] = []
    # The decision is under test here, so a cycle only notes its type.
    scheduler = Scheduler(Pipeline(client=None, store=store, emitter=Emitter(None, None), managers=object(),
                                   clock=lambda: clock_now),
                          run=lambda _p, record_type, **_kw: ran.append(record_type))
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for rtype in POLLED_TYPES:
            conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_finished,"
                         " last_cycle_status) values (%s, now(), %s, %s, 'ok')",
                         (f"cw:{rtype}", clock_now - timedelta(minutes=90), clock_now - timedelta(minutes=89)))
        scheduler.tick()
        assert ran == []  # default cadence: 6 hours
        conn.execute("update record_type_settings set cadence_minutes = 60 where record_type = 'credit_note'")
        scheduler.tick()
        assert ran == ["credit_note"]
        store.request_cycle("invoice")  # what a RUN_CYCLE command does
        ran.clear()
        scheduler.tick()
        assert ran == ["invoice", "credit_note"]
    store.close()
