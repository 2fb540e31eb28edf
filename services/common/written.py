"""What the writer's ledger says Xero holds, for the services that must follow it:
the mapper sends an update or a deletion where a document was written, and money
to the organisation and Xero document its invoice or credit note became. The
writer owns `xero_ledger`; everyone else reads it through here.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

LIVE_EXCLUDED = ("DELETED",)  # a document or payment removed in Xero is no longer held there


@dataclass(frozen=True)
class Written:
    organisation_id: str
    record_type: str
    cw_id: str
    xero_id: str
    xero_status: str | None


def written(conn: psycopg.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Written]]:
    """For each (record type, ConnectWise id): where Xero holds it, by organisation id."""
    if not keys:
        return {}
    rows = conn.execute(
        "select organisation_id, record_type, cw_id, xero_id, xero_status from xero_ledger"
        " where xero_id is not null and (record_type, cw_id) in (select * from unnest(%s::text[], %s::text[]))"
        " order by organisation_id",
        ([str(k[0]) for k in keys], [str(k[1]) for k in keys])).fetchall()
    found: dict[tuple[str, str], list[Written]] = {}
    for r in rows:
        found.setdefault((r["record_type"], r["cw_id"]), []).append(Written(**r))
    return found


def written_to(conn: psycopg.Connection, record_type: str, cw_id: object) -> list[str]:
    """The organisations whose Xero holds this record."""
    return [w.organisation_id for w in written(conn, [(record_type, str(cw_id))]).get((record_type, str(cw_id)), [])]
