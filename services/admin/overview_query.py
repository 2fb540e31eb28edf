"""The console's overview read model: per organisation, what was synced today and in
the last cycle, open exceptions, Xero calls used today and the open-balance
difference; and where each payment cycle stands. Plain SQL given a connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..common.db import Conn, one_row
from .exceptions_query import open_by_organisation


@dataclass
class OrganisationOverview:
    id: str
    name: str
    status: str
    connected: bool
    currency: str | None
    synced_today: dict[str, int] = field(default_factory=dict)
    synced_last_cycle: dict[str, int] = field(default_factory=dict)
    open_exceptions: int = 0
    xero_calls_today: int = 0
    day_limit: int = 5000
    balance_checked_at: datetime | None = None
    balance_differences: int | None = None
    balance_difference_total: Decimal | None = None
    last_payment_cycle: datetime | None = None
    last_payment_cycle_status: str | None = None

    @property
    def budget_used_percent(self) -> float:
        return min(100.0, 100.0 * self.xero_calls_today / self.day_limit) if self.day_limit else 0.0


def organisation_overviews(conn: Conn, day_start: datetime, day_limit: int) -> list[OrganisationOverview]:
    """`day_start` is the viewer's midnight (UTC instant): "today" is the viewer's day."""
    orgs = {
        r["id"]: OrganisationOverview(
            r["id"],
            r["name"],
            r["status"],
            r["credential_sealed"] is not None,
            r.get("base_currency"),
            day_limit=day_limit,
        )
        for r in conn.execute("select * from organisations order by name")
    }
    for r in conn.execute(
        "select r.organisation_id, r.record_type,"
        " count(*) filter (where r.status_changed_at >= %(day)s) as today,"
        " count(*) filter (where r.status_changed_at >= c.last_cycle_started) as last_cycle"
        " from sync_records r left join sync_cursors c on c.source = case when r.record_type = 'xero_payment'"
        " then 'xero:payments:' || r.organisation_id else 'cw:' || r.record_type end"
        " where r.status = 'synced' and r.organisation_id is not null group by 1, 2",
        {"day": day_start},
    ):
        org = orgs.get(r["organisation_id"])
        if org is not None:
            org.synced_today[r["record_type"]] = r["today"]
            org.synced_last_cycle[r["record_type"]] = r["last_cycle"]
    for org_id, n in open_by_organisation(conn).items():
        if org_id in orgs:
            orgs[org_id].open_exceptions = n
    for r in conn.execute("select organisation_id, calls from api_usage where day = (now() at time zone 'utc')::date"):
        if r["organisation_id"] in orgs:
            orgs[r["organisation_id"]].xero_calls_today = r["calls"]
    for r in conn.execute(
        "select o.id, c.last_cycle_finished, c.last_cycle_status, b.checked_at, b.differences, b.difference_total"
        " from organisations o left join sync_cursors c on c.source = 'xero:payments:' || o.id"
        " left join balance_checks b on b.organisation_id = o.id"
    ):
        org = orgs[r["id"]]
        org.last_payment_cycle, org.last_payment_cycle_status = r["last_cycle_finished"], r["last_cycle_status"]
        org.balance_checked_at, org.balance_differences = r["checked_at"], r["differences"]
        org.balance_difference_total = r["difference_total"]
    return list(orgs.values())


def unrouted_exceptions(conn: Conn) -> int:
    """Open exceptions of records no organisation took yet (no route, unreadable)."""
    return one_row(conn, "select count(*) as n from exceptions where status = 'open' and organisation_id = ''")["n"]


def open_exception_count(conn: Conn) -> int:
    return one_row(conn, "select count(*) as n from exceptions where status = 'open'")["n"]
