"""Poll cursors in `sync_cursors`, one row per source (`cw:<record type>`,
`xero:payments:<organisation id>`): where the next cycle starts, and how the last
one went. One set of rules for every source: the cursor moves only forward, and a
cycle asked for while one runs stays asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..common.database import Database
from .poller import EPOCH


@dataclass(frozen=True)
class Cursor:
    cursor_at: datetime
    last_cycle_started: datetime | None
    last_cycle_finished: datetime | None
    last_cycle_status: str | None


class Cursors:
    def __init__(self, db: Database):
        self.db = db

    def get(self, source: str) -> Cursor:
        with self.db.connection() as conn:
            row = conn.execute(
                "select cursor_at, last_cycle_started, last_cycle_finished, last_cycle_status"
                " from sync_cursors where source = %s",
                (source,),
            ).fetchone()
        if row is None:
            return Cursor(EPOCH, None, None, None)
        return Cursor(row["cursor_at"], row["last_cycle_started"], row["last_cycle_finished"], row["last_cycle_status"])

    def started(self, source: str, at: datetime) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_status)"
                " values (%s, %s, %s, 'running')"
                " on conflict (source) do update set last_cycle_started = excluded.last_cycle_started,"
                " last_cycle_status = 'running', updated_at = now()",
                (source, EPOCH, at),
            )

    def finished(
        self, source: str, at: datetime, status: str, cursor_at: datetime | None, error: str | None = None
    ) -> None:
        """Records the outcome; the cursor moves only forward, and only when given. Failed cycles
        in a row are counted, with the last one's error, so an outage can be told from a blip."""
        with self.db.connection() as conn:
            conn.execute(
                # A RUN_CYCLE that arrived while this cycle ran stays requested: it asked for a cycle after now.
                "update sync_cursors set last_cycle_finished = %(at)s,"
                " last_cycle_status = case when last_cycle_status = 'requested' then 'requested' else %(status)s end,"
                " failed_cycles = case %(status)s when 'failed' then failed_cycles + 1 when 'ok' then 0"
                " else failed_cycles end,"
                " failing_since = case %(status)s when 'failed' then coalesce(failing_since, %(at)s) when 'ok' then "
                "null"
                " else failing_since end,"
                " last_error = case %(status)s when 'failed' then %(error)s when 'ok' then null else last_error end,"
                " cursor_at = greatest(cursor_at, coalesce(%(cursor_at)s, cursor_at)), updated_at = now()"
                " where source = %(source)s",
                {"at": at, "status": status, "cursor_at": cursor_at, "error": error, "source": source},
            )

    def progress(self, source: str, seen: int, total: int | None) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "update sync_cursors set progress_seen = %s, progress_total = %s where source = %s",
                (seen, total, source),
            )

    def request(self, sources: list[str]) -> None:
        """Makes these sources due now (a RUN_CYCLE command), durably."""
        with self.db.unit_of_work() as conn:
            for source in sources:
                conn.execute(
                    "insert into sync_cursors (source, cursor_at, last_cycle_status) values (%s, %s, 'requested')"
                    " on conflict (source) do update set last_cycle_status = 'requested', updated_at = now()",
                    (source, EPOCH),
                )
