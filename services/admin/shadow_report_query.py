"""The admin API's read model of the shadow report (`shadow_outcomes`, written by the mapper
and the writer while an organisation is in a shadow run): what would happen to each record,
its counts per outcome, and the report as CSV. Plain SQL given a connection; the record's
number and customer come from `sync_records` when the decision did not name them."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from pydantic import BaseModel

from ..common.db import Conn, one_row
from ..common.shadow_report import OUTCOMES

CSV_COLUMNS = (
    "organisation_id",
    "record_type",
    "cw_id",
    "record_number",
    "customer",
    "total",
    "outcome",
    "detail",
    "message",
    "xero_id",
    "observed_at",
    "decided_at",
)


class ShadowRow(BaseModel):
    organisation_id: str
    record_type: str
    cw_id: str
    record_number: str | None
    customer: str | None
    total: Decimal | None  # what ConnectWise says the document totals
    outcome: str  # create, update, adopt, void, delete, skip, wait or exception
    detail: str | None  # the exception's kind, or why nothing would be written
    message: str | None
    xero_id: str | None  # the Xero document it would update or adopt
    observed_at: datetime | None
    decided_at: datetime


_SELECT = (
    "select o.organisation_id, o.record_type, o.cw_id, coalesce(o.record_number, r.record_number) as"
    " record_number, coalesce(o.customer, r.customer) as customer, o.total, o.outcome, o.detail, o.message,"
    " o.xero_id, o.observed_at, o.decided_at from shadow_outcomes o left join sync_records r"
    " on r.record_type = o.record_type and r.cw_id = o.cw_id"
)
_WHERE = (
    " where o.organisation_id = %(org)s and (%(outcome)s::text is null or o.outcome = %(outcome)s)"
    " and (%(type)s::text is null or o.record_type = %(type)s)"
)
_ORDER = " order by o.record_type, length(o.cw_id), o.cw_id"


def outcome_counts(conn: Conn, org_id: str, record_type: str | None = None) -> dict[str, int]:
    """Records of the organisation's report per outcome, every outcome named (0 when none)."""
    rows = conn.execute(
        "select outcome, count(*) as n from shadow_outcomes where organisation_id = %s"
        " and (%s::text is null or record_type = %s) group by outcome",
        (org_id, record_type, record_type),
    ).fetchall()
    found = {r["outcome"]: r["n"] for r in rows}
    return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}


def list_outcomes(
    conn: Conn, org_id: str, outcome: str | None, record_type: str | None, limit: int, offset: int
) -> tuple[list[ShadowRow], int]:
    """One page of the report (by record type and ConnectWise id) and how many rows the filter holds."""
    params = {"org": org_id, "outcome": outcome, "type": record_type, "limit": limit, "offset": offset}
    total = one_row(conn, "select count(*) as n from shadow_outcomes o" + _WHERE, params)["n"]
    rows = conn.execute(_SELECT + _WHERE + _ORDER + " limit %(limit)s offset %(offset)s", params).fetchall()
    return [ShadowRow(**r) for r in rows], total


def all_outcomes(conn: Conn, org_id: str, outcome: str | None, record_type: str | None) -> Iterable[dict]:
    params = {"org": org_id, "outcome": outcome, "type": record_type}
    return conn.execute(_SELECT + _WHERE + _ORDER, params).fetchall()


def _text(value) -> str:
    """A cell as text; one a spreadsheet would run as a formula is kept as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(rows: Iterable[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        total = "" if r["total"] is None else f"{r['total']:.2f}"
        times = ["" if r[c] is None else r[c].isoformat() for c in ("observed_at", "decided_at")]
        writer.writerow(
            [
                *(_text(r[c]) for c in CSV_COLUMNS[:5]),
                total,
                *(_text(r[c]) for c in ("outcome", "detail", "message", "xero_id")),
                *times,
            ]
        )
    return out.getvalue()
