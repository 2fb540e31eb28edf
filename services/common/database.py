"""One way for a service to hold Postgres connections: a small pool per process.

`connection()` lends a connection in autocommit mode (each statement commits on
its own); `unit_of_work()` lends one inside a transaction that commits when the
block ends and rolls back if it raises. The pool checks a connection before
lending it, so a restarted or unreachable Postgres costs the call that meets
it an `OperationalError` (a `PoolTimeout` is one), and the next call connects
afresh: callers retry what is transient, as every consumer's error policy does.

A session-level advisory lock lives on one connection, so `session_lock` keeps
a connection out of the pool while the lock is held. Lock ids are in `locks.py`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, cast

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .db import Conn, one_row

CONNECT_TIMEOUT = 5
WAIT_FOR_CONNECTION = 10.0  # seconds a caller waits for a connection before PoolTimeout


class Database:
    def __init__(self, url: str, *, max_size: int = 4, name: str = "connectzero"):
        self.url = url
        # The pool's connections answer dict rows (row_factory below); the pool's type cannot see it.
        self.pool = cast(
            "ConnectionPool[Conn]",
            ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                open=False,
                name=name,
                timeout=WAIT_FOR_CONNECTION,
                check=ConnectionPool.check_connection,
                kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            ),
        )
        # Opened without waiting: a service starts while Postgres is down and connects when it is back.
        self.pool.open(wait=False)

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def unit_of_work(self) -> Iterator[Conn]:
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def session_lock(self, lock: int, key: int = 0) -> Iterator[Conn | None]:
        """Tries the advisory lock (`lock`, `key`) without waiting; yields the connection that
        holds it, or None when another session holds it. Released (and the connection
        returned) when the block ends."""
        with self.pool.connection() as conn:
            held = bool(one_row(conn, "select pg_try_advisory_lock(%s, %s) as ok", (lock, key))["ok"])
            try:
                yield conn if held else None
            finally:
                if held and not conn.closed:
                    conn.execute("select pg_advisory_unlock(%s, %s)", (lock, key))

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
