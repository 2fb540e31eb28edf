"""The connection pool every service holds, against a real Postgres."""
from __future__ import annotations

import psycopg
import pytest

from services.common.database import Database


def test_a_connection_killed_under_the_pool_is_replaced(fresh_database):
    with Database(fresh_database, max_size=1) as db:
        with db.connection() as conn:
            pid = conn.execute("select pg_backend_pid() as pid").fetchone()["pid"]
        with psycopg.connect(fresh_database, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (pid,))
        with db.connection() as conn:  # checked before it is lent: a dead one is never handed out
            assert conn.execute("select pg_backend_pid() as pid").fetchone()["pid"] != pid


def test_a_unit_of_work_commits_all_or_nothing(fresh_database):
    with Database(fresh_database) as db:
        with db.unit_of_work() as conn:
            conn.execute("insert into api_usage (organisation_id, day, calls) values ('a', current_date, 1)")
        with pytest.raises(RuntimeError), db.unit_of_work() as conn:
            conn.execute("insert into api_usage (organisation_id, day, calls) values ('b', current_date, 1)")
            raise RuntimeError("half-way")
        with db.connection() as conn:
            assert [r["organisation_id"] for r in conn.execute("select organisation_id from api_usage")] == ["a"]


def test_a_session_lock_is_held_by_one_holder_until_released(fresh_database):
    with Database(fresh_database) as db, Database(fresh_database) as other:
        with db.session_lock(727_999, 1) as held:
            assert held is not None
            with other.session_lock(727_999, 1) as again:
                assert again is None
        with other.session_lock(727_999, 1) as after:
            assert after is not None


@pytest.mark.integration
def test_an_unreachable_database_is_an_operational_error_not_a_hang():
    with Database("postgresql://postgres@127.0.0.1:1/postgres") as db:
        with pytest.raises(psycopg.OperationalError), db.connection():
            pass
