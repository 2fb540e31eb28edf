"""An organisation's go-live date: what ConnectWise dated before it belongs to the books
as they were kept before Connect Zero (by hand, or by the tool it replaces), so it is
never written to Xero. Such a record is `before_go_live`, not pending and not an
exception; money on it follows it. Pure."""

from __future__ import annotations

from ..mapping.model import OrgMapping
from ..mapping.translate import record_date, record_label


def before_go_live(record: dict, org: OrgMapping) -> str | None:
    """Why the record is not written (it predates the go-live date), or None."""
    go_live = org.settings.go_live_date
    day = record_date(record)
    if go_live is None or day is None or day >= go_live:
        return None
    return (
        f"{record_label(record)} is dated {day.isoformat()}, before the go-live date {go_live.isoformat()} of "
        f"organisation {org.organisation_id}: it stays as the books had it and is never written to Xero"
    )
