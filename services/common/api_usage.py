"""Xero calls counted per organisation and day (`api_usage`), by every service that calls
Xero: the day budget is one per organisation, so the writer's pacer starts from what
the others used, and the roll-up and console show the day's total."""

from __future__ import annotations

from .database import Database


class ApiUsage:
    def __init__(self, db: Database):
        self.db = db

    def count_call(self, organisation_id: str) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "insert into api_usage (organisation_id, day, calls) values"
                " (%s, (now() at time zone 'utc')::date, 1) on conflict (organisation_id, day)"
                " do update set calls = api_usage.calls + 1",
                (organisation_id,),
            )

    def calls_today(self, organisation_id: str) -> int:
        with self.db.connection() as conn:
            row = conn.execute(
                "select calls from api_usage where organisation_id = %s and day = (now() at time zone 'utc')::date",
                (organisation_id,),
            ).fetchone()
        return row["calls"] if row else 0
