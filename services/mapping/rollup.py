"""One organisation at a glance: records synced by type, amounts, open
exceptions, last cycle, Xero API budget used today.

The tables read here belong to the sync services and may not exist yet (a
fresh install, or a deployment without them): each is checked with
`to_regclass` first, and a missing one counts as zero.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal


def _exists(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null as ok", (table,)).fetchone()["ok"]


def rollup(conn, org_id: str, daily_limit: int = 5000) -> dict:
    by_type: dict[str, dict] = {}
    open_exceptions = 0
    if _exists(conn, "sync_records"):
        for r in conn.execute(
            "select record_type, count(*) as n, coalesce(sum(total), 0) as amount from sync_records"
            " where organisation_id = %s and status = 'synced' group by record_type",
            (org_id,),
        ):
            by_type[r["record_type"]] = {
                "synced": r["n"],
                "amount": str(Decimal(r["amount"]).quantize(Decimal("0.01"))),
            }
        open_exceptions = conn.execute(
            "select count(*) as n from sync_records where organisation_id = %s and status in ('exception','failed')",
            (org_id,),
        ).fetchone()["n"]
    last_cycle = None
    if _exists(conn, "sync_cursors"):
        # ConnectWise cycles feed every organisation; Xero payment cycles are per organisation.
        row = conn.execute(
            "select max(last_cycle_finished) as at from sync_cursors where source like 'cw:%%' or source = %s",
            (f"xero:payments:{org_id}",),
        ).fetchone()
        last_cycle = row["at"].isoformat() if row["at"] else None
    calls = 0
    if _exists(conn, "api_usage"):
        row = conn.execute(
            "select calls from api_usage where organisation_id = %s and day = %s",
            (org_id, datetime.now(timezone.utc).date()),
        ).fetchone()
        calls = row["calls"] if row else 0
    total = sum((Decimal(v["amount"]) for v in by_type.values()), Decimal("0"))
    return {
        "organisation_id": org_id,
        "records_synced": {t: v["synced"] for t, v in sorted(by_type.items())},
        "amounts": {t: v["amount"] for t, v in sorted(by_type.items())},
        "total_amount": str(total.quantize(Decimal("0.01"))),
        "open_exceptions": open_exceptions,
        "last_cycle_at": last_cycle,
        "api_calls_today": calls,
        "api_daily_limit": daily_limit,
        "api_budget_used": f"{Decimal(calls * 100) / daily_limit:.1f}%",
    }
