"""What the writer's ledger says Xero holds, for the services that must follow it:
the mapper sends an update or a deletion where a document was written, and money
to the organisation and Xero document its invoice or credit note became. The
writer owns `xero_ledger`; everyone else reads it through here, and Xero's state
of a record, when a webhook reports it changed, is written through here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .db import Conn

LIVE_EXCLUDED = ("DELETED",)  # a document or payment removed in Xero is no longer held there


@dataclass(frozen=True)
class Written:
    organisation_id: str
    record_type: str
    cw_id: str
    xero_id: str
    xero_status: str | None


def written(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Written]]:
    """For each (record type, ConnectWise id): where Xero holds it, by organisation id."""
    if not keys:
        return {}
    rows = conn.execute(
        "select organisation_id, record_type, cw_id, xero_id, xero_status from xero_ledger"
        " where xero_id is not null and (record_type, cw_id) in (select * from unnest(%s::text[], %s::text[]))"
        " order by organisation_id",
        ([str(k[0]) for k in keys], [str(k[1]) for k in keys]),
    ).fetchall()
    found: dict[tuple[str, str], list[Written]] = {}
    for r in rows:
        found.setdefault((r["record_type"], r["cw_id"]), []).append(Written(**r))
    return found


def written_to(conn: Conn, record_type: str, cw_id: object) -> list[str]:
    """The organisations whose Xero holds this record."""
    return [w.organisation_id for w in written(conn, [(record_type, str(cw_id))]).get((record_type, str(cw_id)), [])]


@dataclass(frozen=True)
class Held:
    """A record the ledger says one organisation's Xero holds, found by its Xero id."""

    organisation_id: str
    record_type: str
    cw_id: str
    xero_id: str
    xero_status: str | None
    natural_key: str | None
    write_in_flight: bool  # a write's outcome is not stored yet: Xero may be showing that write


def held_by_xero_ids(conn: Conn, organisation_id: str, xero_ids: list[str]) -> dict[str, Held]:
    """Xero id (lower case) -> what the ledger holds under it, for the ids it knows."""
    if not xero_ids:
        return {}
    rows = conn.execute(
        "select organisation_id, record_type, cw_id, xero_id, xero_status, natural_key,"
        " pending_request_id is not null as write_in_flight from xero_ledger"
        " where organisation_id = %s and xero_id = any(%s)",  # Xero's ids as sent, or lower case
        (organisation_id, sorted({*xero_ids, *(x.lower() for x in xero_ids)})),
    ).fetchall()
    return {r["xero_id"].lower(): Held(**r) for r in rows}


def set_xero_status(conn: Conn, held: Held, xero_status: str) -> bool:
    """Xero's state of a record, as Xero now reports it, so the writer's status rules see it
    (an approval kept, a voided record never written over). Not while a write is in flight:
    the writer stores that outcome itself. Returns whether the ledger changed."""
    cur = conn.execute(
        "update xero_ledger set xero_status = %s, updated_at = now() where organisation_id = %s"
        " and record_type = %s and cw_id = %s and pending_request_id is null"
        " and xero_status is distinct from %s",
        (xero_status, held.organisation_id, held.record_type, held.cw_id, xero_status),
    )
    return cur.rowcount > 0


def writes_in_flight(conn: Conn, record_types: Sequence[str], cw_ids: Sequence[str]) -> set[str]:
    """Those of `cw_ids` with a write in some organisation whose outcome is not stored yet."""
    if not cw_ids:
        return set()
    rows = conn.execute(
        "select cw_id from xero_ledger where record_type = any(%s) and cw_id = any(%s)"
        " and pending_request_id is not null",
        (list(record_types), list(cw_ids)),
    ).fetchall()
    return {r["cw_id"] for r in rows}


def invoices_by_xero_id(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ConnectWise invoice each (organisation id, Xero InvoiceID) was written from."""
    if not keys:
        return {}
    rows = conn.execute(
        "select organisation_id, xero_id, cw_id from xero_ledger where record_type = 'invoice'"
        " and (organisation_id, xero_id) in (select * from unnest(%s::text[], %s::text[]))",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(r["organisation_id"], r["xero_id"]): int(r["cw_id"]) for r in rows}
