"""Audit search as pure query building: filters in, ClickHouse SQL with bound
parameters out. Values never enter the SQL text; they travel as `{name:Type}`
parameters, which chdb and a ClickHouse server both bind server-side.

Paging is keyset paging on (at, entry_id), newest first: the cursor is the
last row a page showed, so a page stays stable while new entries arrive.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from ..common.audit_query import DEFAULT_LIMIT, MAX_LIMIT
from ..common.record_kinds import RECORD_TYPES
from .entries import COLUMNS

MAX_TERMS = 8
# Columns searched by `q`; bodies are where a finance user finds an invoice number or an error text.
TEXT_COLUMNS = ("summary", "url", "customer", "record_id", "error", "request_body", "response_body", "payload")
# What `q` looks in: the text columns as one lower-case text. A word found in one column is found here
# (words hold no space, so none spans two columns), and the store's text index of this very
# expression (its 4-character pieces) finds the few rows that can hold a word without reading bodies.
SEARCH_TEXT = f"lowerUTF8(concat_ws(' ', {', '.join(TEXT_COLUMNS)}))"
SEARCH_NGRAM = 4  # a word shorter than this is looked for in every row
# What a page lists: not the bodies and headers, which only come with the single entry, nor `at`,
# which a page selects as text and as milliseconds for its cursor.
_ENTRY_ONLY = ("at", "request_headers", "request_body", "response_headers", "response_body", "payload")
LIST_COLUMNS = tuple(c for c in COLUMNS if c not in _ENTRY_ONLY)
_STATUS_CLASS = re.compile(r"^[1-5]xx$", re.IGNORECASE)
FILTER_NAMES = ("from", "to", "record_type", "customer", "organisation", "status", "api", "record_id", "q")
APIS = ("xero", "connectwise", "none")  # none: events, which no API exchange carries


class QueryError(ValueError):
    """A bad filter: names the parameter and the reason."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass(frozen=True)
class Cursor:
    at_ms: int
    entry_id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.at_ms}:{self.entry_id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, _, entry_id = raw.partition(":")
            if not entry_id:
                raise ValueError
            return cls(int(at), entry_id)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise QueryError("cursor", "not a cursor this API returned") from None


@dataclass(frozen=True)
class AuditQuery:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    record_type: str | None = None
    customer: str | None = None
    organisation: str | None = None
    statuses: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    cursor: Cursor | None = None
    limit: int = DEFAULT_LIMIT
    api: str | None = None
    record_id: str | None = None


def _instant(name: str, text: str, end: bool) -> datetime:
    """ISO date or date-time; a bare date as `to` means the whole of that day."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end and day == date.max:  # the whole of 9999-12-31: nothing is later
                return datetime.max.replace(tzinfo=timezone.utc)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), timezone.utc)
            return moment
        # An unencoded "+02:00" in a query string arrives as " 02:00".
        moment = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise QueryError(
            name, f"{text!r} is not an ISO 8601 date or date-time (e.g. 2026-11-25 or 2026-11-25T08:00:00Z)"
        ) from None
    try:
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise QueryError(name, f"{text!r} is before year 1 or after 9999 in UTC") from None


def parse_query(params: Mapping[str, str | None]) -> AuditQuery:
    """Validates raw query-string values into an AuditQuery; raises QueryError."""

    def get(name: str) -> str | None:
        value = params.get(name)
        return value.strip() or None if isinstance(value, str) else value

    start_text, end_text = get("from"), get("to")
    start = _instant("from", start_text, end=False) if start_text else None
    end = _instant("to", end_text, end=True) if end_text else None
    if start and end and start >= end:
        raise QueryError("to", "must be later than from")
    record_type = get("record_type")
    if record_type and record_type not in RECORD_TYPES:
        raise QueryError("record_type", f"{record_type!r} is not one of {', '.join(RECORD_TYPES)}")
    statuses = tuple(s.strip() for s in (get("status") or "").split(",") if s.strip())
    for status in statuses:
        if not re.fullmatch(r"[A-Za-z0-9_:-]{1,40}", status):
            raise QueryError(
                "status",
                f"{status!r} is not a status (an HTTP code like 429, a class like 5xx, or an outcome like FAILED)",
            )
    terms = tuple((get("q") or "").split())
    if len(terms) > MAX_TERMS:
        raise QueryError("q", f"at most {MAX_TERMS} words")
    limit_text = get("limit")
    try:
        limit = int(limit_text) if limit_text else DEFAULT_LIMIT
    except ValueError:
        raise QueryError("limit", f"{limit_text!r} is not a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"must be between 1 and {MAX_LIMIT}")
    cursor_text = get("cursor")
    cursor = Cursor.decode(cursor_text) if cursor_text else None
    api = (get("api") or "").lower() or None
    if api and api not in APIS:
        raise QueryError("api", f"{api!r} is not one of {', '.join(APIS)}")
    return AuditQuery(
        start,
        end,
        record_type,
        get("customer"),
        get("organisation"),
        statuses,
        terms,
        cursor,
        limit,
        api,
        get("record_id"),
    )


@dataclass
class Sql:
    text: str
    params: dict = field(default_factory=dict)


def where(query: AuditQuery) -> Sql:
    clauses: list[str] = []
    params: dict[str, Any] = {}

    def bind(value, ch_type: str) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f"{{{name}:{ch_type}}}"

    if query.start:
        clauses.append(f"at >= fromUnixTimestamp64Milli({bind(_ms(query.start), 'Int64')}, 'UTC')")
    if query.end:
        clauses.append(f"at < fromUnixTimestamp64Milli({bind(_ms(query.end), 'Int64')}, 'UTC')")
    if query.record_type:
        clauses.append(f"record_type = {bind(query.record_type, 'String')}")
    if query.organisation:
        clauses.append(f"organisation_id = {bind(query.organisation, 'String')}")
    if query.api:
        clauses.append(f"api = {bind('' if query.api == 'none' else query.api, 'String')}")
    if query.record_id:
        clauses.append(f"record_id = {bind(query.record_id, 'String')}")
    if query.customer:  # part of the name is enough: finance types "acme", not "Acme Pty Ltd"
        clauses.append(f"positionCaseInsensitiveUTF8(customer, {bind(query.customer, 'String')}) > 0")
    if query.statuses:
        alternatives = []
        for status in query.statuses:
            if _STATUS_CLASS.match(status):
                alternatives.append(f"(length(status) = 3 AND startsWith(status, {bind(status[0], 'String')}))")
            else:
                alternatives.append(f"lower(status) = {bind(status.lower(), 'String')}")
        clauses.append("(" + " OR ".join(alternatives) + ")")
    for term in query.terms:  # every word must appear somewhere, in any case
        clauses.append(f"{SEARCH_TEXT} LIKE concat('%', lowerUTF8({bind(_like_literal(term), 'String')}), '%')")
    if query.cursor:
        at = f"fromUnixTimestamp64Milli({bind(query.cursor.at_ms, 'Int64')}, 'UTC')"
        # `at <=` alone is what the primary key and the monthly partitions can skip by; the tuple keeps
        # the order exact among entries of the same millisecond.
        clauses.append(f"at <= {at} AND (at, entry_id) < ({at}, {bind(query.cursor.entry_id, 'String')})")
    return Sql(" AND ".join(clauses) or "1", params)


def _like_literal(text: str) -> str:
    """The word as LIKE matches it literally: its % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_AT_ISO = "formatDateTime(at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')"
# The ISO text is selected under the column's own name; this setting keeps `at`
# in WHERE and ORDER BY meaning the column, not the text.
_SETTINGS = " SETTINGS prefer_column_name_to_alias = 1"


# How a page is read fastest on ClickHouse 26 (chdb's): each part's stream hands rows to the newest-first
# merge as it finds them, in blocks of 8,192, instead of buffering first (a filter that few rows pass,
# one customer's 4xx, waited on every part's tail), and skip indexes are applied before reading, not
# granule by granule. Older servers do not know these settings, so the store adds them only where known.
FAST_PAGE_SETTINGS = ", read_in_order_use_buffering = 0, max_block_size = 8192, use_skip_indexes_on_data_read = 0"


def page_sql(query: AuditQuery, table: str, settings: str = "") -> Sql:
    """One page plus one row, so the caller knows whether there is a next page.

    No FINAL here: it stops ClickHouse reading the (at, entry_id) order backwards
    and costs 15x on a million entries. A duplicate (a redelivered message not
    merged yet) has the same (at, entry_id), so it sits next to its twin and
    `page_result` drops it.
    """
    cond = where(query)
    cols = ", ".join(LIST_COLUMNS)
    cond.text = (
        f"SELECT {cols}, {_AT_ISO} AS at, toUnixTimestamp64Milli(at) AS at_ms FROM {table} "
        f"WHERE {cond.text} ORDER BY at DESC, entry_id DESC LIMIT {query.limit + 1}{_SETTINGS}{settings}"
    )
    return cond


# Finance opens the export in a spreadsheet: a customer name or body that
# starts with = + - @ would run as a formula there (CSV injection), so such a
# cell is prefixed with an apostrophe, as OWASP recommends.
_PLAIN = ("entry_id", "kind", "topic", "api", "service", "status", "method", "duration_ms")


def _export_column(column: str) -> str:
    if column == "at":
        return f"{_AT_ISO} AS at"
    if column in _PLAIN:
        return column
    return f"if(match({column}, '^[-=+@\\\\t\\\\r]'), concat('\\'', {column}), {column}) AS {column}"


# An export streams in blocks of this many rows: memory stays the same for a thousand rows or ten
# million (ClickHouse's default of 65,409 rows of bodies holds a gigabyte in flight).
EXPORT_BLOCK_ROWS = 8192


def export_sql(query: AuditQuery, table: str, columns: tuple[str, ...]) -> Sql:
    """Every matching row (no page limit, cursor ignored), every column, newest first.

    FINAL drops an unmerged duplicate while merging the parts' sorted streams, so
    memory does not grow with the rows (LIMIT 1 BY would keep every key it saw);
    twins share `at`, hence the monthly partition, so no merge crosses partitions."""
    cond = where(AuditQuery(**{**query.__dict__, "cursor": None}))
    cols = ", ".join(_export_column(c) for c in columns)
    cond.text = (
        f"SELECT {cols} FROM {table} FINAL WHERE {cond.text} ORDER BY at DESC, entry_id DESC"
        f"{_SETTINGS}, do_not_merge_across_partitions_select_final = 1, max_block_size = {EXPORT_BLOCK_ROWS}"
    )
    return cond


def entry_sql(entry_id: str, table: str, columns: tuple[str, ...]) -> Sql:
    cols = ", ".join(_AT_ISO + " AS at" if c == "at" else c for c in columns)
    return Sql(f"SELECT {cols} FROM {table} WHERE entry_id = {{id:String}} LIMIT 1{_SETTINGS}", {"id": entry_id})


def page_result(rows: list[dict], limit: int) -> dict:
    """The API's page: entries and the cursor of the next page (None on the last).

    `rows` is what page_sql fetched (up to limit + 1, newest first). A page that
    lost a duplicate may show fewer than `limit` entries; its cursor still
    resumes right after the last one shown.
    """
    more = len(rows) > limit
    unique: list[dict] = []
    for row in rows:
        if not unique or (unique[-1]["at_ms"], unique[-1]["entry_id"]) != (row["at_ms"], row["entry_id"]):
            unique.append(row)
    unique = unique[:limit]
    next_cursor = Cursor(int(unique[-1]["at_ms"]), unique[-1]["entry_id"]).encode() if more and unique else None
    for row in unique:
        row.pop("at_ms", None)
    return {"entries": unique, "next_cursor": next_cursor, "count": len(unique)}
