"""The admin API's read models of records: the records list with its filters, and where
each record type's polling stands. Plain SQL over `sync_records` and `sync_cursors`,
given a connection; the routes own nothing but the HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from ..common.db import Conn, one_row


class RecordRow(BaseModel):
    record_type: str
    cw_id: str
    number: str | None
    customer: str | None
    status: str
    organisation_id: str | None
    xero_id: str | None
    xero_status: str | None  # DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED or DELETED in Xero
    xero_status_changed_at: datetime | None  # when Connect Zero learned Xero's state changed
    total: Decimal | None
    last_updated: datetime | None
    emitted_at: datetime | None
    updated_at: datetime
    last_error: str | None


class RecordPage(BaseModel):
    items: list[RecordRow]
    total: int
    limit: int
    offset: int


class SyncState(BaseModel):
    """Where a record type's polling stands (xero_payment's combines its organisations' cycles)."""

    record_type: str
    cadence_minutes: int
    cursor_at: datetime | None
    last_cycle_started: datetime | None
    last_cycle_finished: datetime | None
    last_cycle_status: str | None
    next_due_at: datetime | None
    progress_seen: int | None
    progress_total: int | None
    records_by_status: dict[str, int]


# One row of cycles per record type. ConnectWise types are polled once for every organisation
# (`cw:<type>`); Xero payments are polled per organisation (`xero:payments:<org>`), so their row
# combines those: running while any runs (else requested while any is, else failed while any
# failed, else the latest finished one's status), the latest start and finish, the oldest cursor
# (how far the slowest has read) and the progress summed.
_CYCLES = (
    "select substr(source, 4) as record_type, cursor_at, last_cycle_started, last_cycle_finished,"
    " last_cycle_status, progress_seen, progress_total from sync_cursors where source like 'cw:%'"
    " union all select 'xero_payment', min(cursor_at), max(last_cycle_started), max(last_cycle_finished),"
    " (array_agg(last_cycle_status order by array_position(array['running', 'requested', 'failed'],"
    " last_cycle_status) nulls last, last_cycle_finished desc nulls last))[1],"
    " sum(progress_seen)::int, sum(progress_total)::int from sync_cursors where source like 'xero:payments:%'"
    " having count(*) > 0"
)


def sync_states(conn: Conn) -> list[SyncState]:
    """Each record type's cadence, cursor, last cycle, progress and records by status."""
    rows = conn.execute(
        f"with cycles as ({_CYCLES}) select s.record_type, s.cadence_minutes, c.cursor_at, c.last_cycle_started,"
        " c.last_cycle_finished, c.last_cycle_status, c.progress_seen, c.progress_total from record_type_settings s"
        " left join cycles c on c.record_type = s.record_type order by s.record_type"
    ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for r in conn.execute("select record_type, status, count(*) as n from sync_records group by 1, 2"):
        counts.setdefault(r["record_type"], {})[r["status"]] = r["n"]
    states = []
    for r in rows:
        started, status = r["last_cycle_started"], r["last_cycle_status"]
        due = (
            None
            if started is None or status in ("requested", "running")
            else started + timedelta(minutes=r["cadence_minutes"])
        )
        states.append(SyncState(**r, next_due_at=due, records_by_status=counts.get(r["record_type"], {})))
    return states


# Columns a records list may be sorted by (what a person clicks), and the SQL each sorts on.
SORTS = {
    "updated": "updated_at",
    "number": "record_number",
    "customer": "customer",
    "type": "record_type",
    "status": "status",
    "organisation": "organisation_id",
    "total": "total",
    "changed": "last_updated",
}


def list_records(
    conn: Conn,
    record_type: str | None,
    status: str | None,
    organisation: str | None,
    q: str | None,
    limit: int,
    offset: int,
    *,
    sort: str = "updated",
    descending: bool = True,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
) -> RecordPage:
    """A page of records matching every filter given; `sort` is a key of SORTS (ties by type and id)."""
    where: list[str] = []
    args: list[object] = []
    if record_type:
        where.append("record_type = %s")
        args.append(record_type)
    if status:
        where.append("status = %s")
        args.append(status)
    if organisation is not None:
        where.append("coalesce(organisation_id, '') = %s")
        args.append(organisation)
    if q:
        where.append("(cw_id = %s or record_number ilike %s or customer ilike %s or xero_id = %s)")
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [q, pattern, pattern, q]
    if updated_from:
        where.append("updated_at >= %s")
        args.append(updated_from)
    if updated_to:
        where.append("updated_at < %s")
        args.append(updated_to)
    clause = (" where " + " and ".join(where)) if where else ""
    order = f"{SORTS.get(sort, 'updated_at')} {'desc' if descending else 'asc'} nulls last"
    total = one_row(conn, f"select count(*) as n from sync_records{clause}", args)["n"]
    rows = conn.execute(
        f"select {_COLUMNS} from sync_records{clause} order by {order}, record_type, cw_id limit %s offset %s",
        [*args, limit, offset],
    ).fetchall()
    return RecordPage(items=[RecordRow(**r) for r in rows], total=total, limit=limit, offset=offset)


_COLUMNS = (
    "record_type, cw_id, record_number as number, customer, status, organisation_id, xero_id, xero_status,"
    " xero_status_changed_at, total, last_updated, emitted_at, updated_at, last_error"
)


class RecordDetail(RecordRow):
    status_changed_at: datetime | None


def get_record(conn: Conn, record_type: str, cw_id: str) -> RecordDetail | None:
    row = conn.execute(
        f"select {_COLUMNS}, status_changed_at from sync_records where record_type = %s and cw_id = %s",
        (record_type, cw_id),
    ).fetchone()
    return RecordDetail(**row) if row else None


def find_records(conn: Conn, number_or_id: str) -> list[RecordDetail]:
    """ConnectWise records numbered `number_or_id` (any case) or with it as their id, latest first."""
    rows = conn.execute(
        f"select {_COLUMNS}, status_changed_at from sync_records where record_type <> 'xero_payment'"
        " and (cw_id = %(q)s or lower(record_number) = lower(%(q)s)) order by updated_at desc, record_type",
        {"q": number_or_id},
    ).fetchall()
    return [RecordDetail(**r) for r in rows]
