"""Documents dated inside a lock date. Xero refuses any document dated on or before an
organisation's period lock date or end-of-year lock date (read with its catalog), so
such a document is decided before it is sent, by the organisation's setting:

- `exception` (the default): a `period_locked` problem saying what to do (move the
  lock date in Xero, or choose the other treatment);
- `first_open_day`: the document is dated the day after the lock date, and its
  reference keeps the ConnectWise date, so the books show both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .model import MappingProblem, SyncSettings, XeroFacts


@dataclass(frozen=True)
class Dating:
    date: str | None  # the Date to write, YYYY-MM-DD (None: the record has none)
    moved_from: str | None = None  # the ConnectWise date, when the document was moved out of a locked period


def dating(when: str, facts: XeroFacts, settings: SyncSettings, org_id: str) -> Dating | MappingProblem:
    lock = facts.lock_date
    if lock is None or date.fromisoformat(when) > lock:
        return Dating(when)
    if settings.lock_date_treatment == "first_open_day":
        return Dating((lock + timedelta(days=1)).isoformat(), moved_from=when)
    which = "end-of-year lock date" if lock == facts.end_of_year_lock_date else "period lock date"
    return MappingProblem(
        "period_locked",
        "date",
        when,
        f"dated {when}, on or before the {which} {lock.isoformat()} of Xero organisation {org_id}, which Xero "
        "refuses: ask the accountant to move the lock date in Xero (then refresh the catalog and force-sync it), "
        "or set the organisation's lock_date_treatment to first_open_day to date it "
        f"{(lock + timedelta(days=1)).isoformat()} with its own date kept in the reference",
    )
