"""How many days the audit log keeps entries (30 to 365), set at run time and applied at once.

A retention set through the admin API (`PUT /api/settings/audit`) or `connectzero
audit-retention` becomes the table's TTL on the spot: entries older than it are deleted in the
background from then on, no restart. Each choice is kept in the audit store itself
(`audit.retention_choices`, who and when), so it holds across restarts; `CZ_AUDIT_RETENTION_DAYS`
is the retention until a first one is set at run time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from .search import Sql
from .store import RETENTION_CHOICES as CHOICES, AuditStore

log = logging.getLogger(__name__)
MIN_DAYS, MAX_DAYS = 30, 365


class RetentionError(ValueError):
    """A retention that cannot be: names the field and the reason."""

    def __init__(self, reason: str):
        super().__init__(f"retention_days: {reason}")
        self.name, self.reason = "retention_days", reason


def checked_days(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RetentionError(f"{value!r} is not a whole number of days")
    if not MIN_DAYS <= value <= MAX_DAYS:
        raise RetentionError(f"must be between {MIN_DAYS} and {MAX_DAYS} days, not {value}")
    return value


class RetentionSetting:
    def __init__(self, store: AuditStore, environment_days: int):
        self.store, self.environment_days = store, environment_days

    def apply_at_start(self) -> int:
        """The last retention set at run time, or else the environment's; returns the days applied."""
        choice = self._last_choice()
        days = int(choice["days"]) if choice else self.environment_days
        if choice and days != self.environment_days:
            log.info(
                "audit retention %d days, set by %s at %s (CZ_AUDIT_RETENTION_DAYS=%d applies only until one "
                "is set at run time)",
                days,
                choice["set_by"],
                choice["set_at"],
                self.environment_days,
            )
        self.store.set_retention(days)
        return days

    def current(self) -> dict:
        choice = self._last_choice()
        return {
            "retention_days": self.store.retention_days(),
            "source": "set" if choice else "environment",
            "set_by": choice["set_by"] if choice else None,
            "set_at": choice["set_at"] if choice else None,
            "environment_days": self.environment_days,
        }

    def change(self, days, set_by: str) -> dict:
        """Records the choice, then applies it: a choice recorded is applied at the latest at the next start."""
        days = checked_days(days)
        row = {
            "set_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "days": days,
            "set_by": set_by[:200],
        }
        self.store._command(f"INSERT INTO {CHOICES} FORMAT JSONEachRow\n" + json.dumps(row))
        self.store.set_retention(days)
        log.info("audit retention set to %d days by %s", days, row["set_by"])
        return self.current()

    def _last_choice(self) -> dict | None:
        rows = self.store._rows(
            Sql(
                f"SELECT formatDateTime(set_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS set_at, days, "
                f"set_by FROM {CHOICES} ORDER BY set_at DESC LIMIT 1"
            )
        )
        return rows[0] if rows else None
