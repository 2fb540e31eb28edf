"""The console's read model of exceptions: grouped by kind with counts, one in full,
a record's own, and re-opening one a person resolved too soon. Listing and
resolving are the shared `services/common/exceptions.py`."""

from __future__ import annotations

from ..common.db import Conn, one_row
from ..common.exceptions import COLUMNS as _LIST_COLUMNS


def counts_by_kind(conn: Conn, status: str | None, organisation: str | None) -> list[dict]:
    """[{kind, count, organisations}] for the exceptions in view, most first."""
    return conn.execute(
        "select kind, count(*) as count, array_agg(distinct organisation_id) as organisations from exceptions"
        " where (%(s)s::text is null or status = %(s)s) and (%(o)s::text is null or organisation_id = %(o)s)"
        " group by kind order by count(*) desc, kind",
        {"s": status, "o": organisation},
    ).fetchall()


def open_by_organisation(conn: Conn) -> dict[str, int]:
    """Open exceptions per organisation id ('' for records no organisation took)."""
    rows = conn.execute("select organisation_id, count(*) as n from exceptions where status = 'open' group by 1")
    return {r["organisation_id"]: r["n"] for r in rows}


def get_exception(conn: Conn, exception_id: int) -> dict | None:
    return conn.execute(f"select {_LIST_COLUMNS} from exceptions where id = %s", (exception_id,)).fetchone()


def record_exceptions(conn: Conn, record_type: str, record_id: str) -> list[dict]:
    return conn.execute(
        f"select {_LIST_COLUMNS} from exceptions where record_type = %s and record_id = %s"
        " order by status, last_seen desc",
        (record_type, record_id),
    ).fetchall()


def list_page(
    conn: Conn,
    status: str | None,
    kind: str | None,
    organisation: str | None,
    limit: int,
    offset: int,
    sort: str,
    descending: bool,
) -> tuple[list[dict], int]:
    order = {
        "seen": "last_seen",
        "kind": "kind",
        "record": "record_type, record_id",
        "organisation": "organisation_id",
        "customer": "customer",
        "first": "first_seen",
    }.get(sort, "last_seen")
    params = {"s": status, "k": kind, "o": organisation}
    where = (
        "(%(s)s::text is null or status = %(s)s) and (%(k)s::text is null or kind = %(k)s)"
        " and (%(o)s::text is null or organisation_id = %(o)s)"
    )
    total = one_row(conn, f"select count(*) as n from exceptions where {where}", params)["n"]
    rows = conn.execute(
        f"select {_LIST_COLUMNS} from exceptions where {where} order by {order}"
        f" {'desc' if descending else 'asc'}, id desc limit %(l)s offset %(off)s",
        {**params, "l": limit, "off": offset},
    ).fetchall()
    return rows, total
