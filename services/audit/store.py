"""The audit log in ClickHouse: one table of entries, searched and exported.

Two backends with one SQL dialect: chdb (ClickHouse in-process) in the data
directory by default, or a ClickHouse server through clickhouse-connect when
`CZ_CLICKHOUSE_URL` is set. chdb allows one process per data directory, so
only the audit service opens this store; everything else asks it over HTTP.

The table is a ReplacingMergeTree ordered by (at, entry_id): newest-first pages
read the sort order backwards, and a message delivered twice (at-least-once)
collapses into one entry because its entry_id is the same. Until the
background merge has run, pages drop the twin themselves, exports use
LIMIT 1 BY and counts FINAL, so a duplicate is never shown.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timezone
from pathlib import Path
from typing import Iterator, cast
from urllib.parse import urlparse

import urllib3

from ..common.settings import Settings
from .entries import COLUMNS
from .search import (
    FAST_PAGE_SETTINGS,
    SEARCH_NGRAM,
    SEARCH_TEXT,
    AuditQuery,
    Sql,
    entry_sql,
    export_sql,
    page_result,
    page_sql,
)

log = logging.getLogger(__name__)
TABLE = "audit.entries"
SEARCH_INDEX = "idx_search"
RETENTION_CHOICES = "audit.retention_choices"  # each retention set at run time: retention.py
_TEXT = "String CODEC(ZSTD(3))"  # bodies compress well and are read rarely


def create_table_sql(retention_days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    entry_id String,
    at DateTime64(3, 'UTC'),
    kind LowCardinality(String),
    topic LowCardinality(String),
    api LowCardinality(String),
    service LowCardinality(String),
    organisation_id LowCardinality(String),
    record_type LowCardinality(String),
    record_id String,
    customer LowCardinality(String),  -- a few thousand names: filters run once per name, not per row
    status LowCardinality(String),
    method LowCardinality(String),
    url String,
    duration_ms Float64,
    summary String,
    error String,
    request_headers {_TEXT},
    request_body {_TEXT},
    response_headers {_TEXT},
    response_body {_TEXT},
    payload {_TEXT},
    INDEX idx_entry_id entry_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_record_id record_id TYPE bloom_filter GRANULARITY 4
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, entry_id)
TTL toDateTime(at) + INTERVAL {int(retention_days)} DAY DELETE"""


_TTL_DAYS = re.compile(r"TTL toDateTime\(at\) \+ toIntervalDay\((\d+)\)")


def _row_json(row: dict) -> str:
    out = dict(row)
    out["at"] = row["at"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return json.dumps(out, ensure_ascii=False)


class AuditStore:
    """Search, fetch and export over either backend; subclasses run the SQL."""

    _page_settings = ""  # FAST_PAGE_SETTINGS on a ClickHouse that knows them (open() asks)

    def open(self, retention_days: int) -> None:
        """Creates what is missing; `retention_days` is the TTL of a new table only. Which retention
        applies to an existing one is retention.py's to say (a value set at run time outlives a restart)."""
        version = self._rows(Sql("SELECT version() AS v"))[0]["v"]
        self._page_settings = FAST_PAGE_SETTINGS if tuple(map(int, version.split(".")[:2])) >= (26, 2) else ""
        self._command("CREATE DATABASE IF NOT EXISTS audit")
        self._command(create_table_sql(retention_days))
        self._command(
            f"CREATE TABLE IF NOT EXISTS {RETENTION_CHOICES} (set_at DateTime64(3, 'UTC'), days UInt16, "
            f"set_by String) ENGINE = MergeTree ORDER BY set_at"
        )
        self._add_search_index()

    def _add_search_index(self) -> None:
        """The text index `q` is searched through (4-character pieces of SEARCH_TEXT). A table made
        before it gets it here and its parts are indexed in the background; searches give the same
        rows meanwhile, only slower, as they do on a ClickHouse server without text indexes (< 26.2)."""
        found = self._rows(
            Sql(
                "SELECT name FROM system.data_skipping_indices WHERE database = 'audit' "
                f"AND table = 'entries' AND name = '{SEARCH_INDEX}'"
            )
        )
        if found:
            return
        try:
            self._command(
                f"ALTER TABLE {TABLE} ADD INDEX {SEARCH_INDEX} {SEARCH_TEXT} "
                f"TYPE text(tokenizer = ngrams({SEARCH_NGRAM}))"
            )
            self._command(f"ALTER TABLE {TABLE} MATERIALIZE INDEX {SEARCH_INDEX}")
        except Exception as exc:  # noqa: BLE001 - any refusal leaves searches right, only slower
            log.warning("audit search index not added (%s): word searches read every entry", exc)

    def retention_days(self) -> int | None:
        rows = self._rows(
            Sql("SELECT create_table_query AS q FROM system.tables WHERE database = 'audit' AND name = 'entries'")
        )
        found = _TTL_DAYS.search(rows[0]["q"]) if rows else None
        return int(found.group(1)) if found else None

    def set_retention(self, days: int) -> None:
        """Applies to the whole table at once: entries older than `days` are deleted in the background."""
        if self.retention_days() != days:
            log.info("audit retention set to %d days", days)
            self._command(f"ALTER TABLE {TABLE} MODIFY TTL toDateTime(at) + INTERVAL {int(days)} DAY DELETE")

    def insert(self, rows: list[dict]) -> None:
        """One INSERT per batch: ClickHouse wants few big inserts, not many small ones."""
        if rows:
            self._insert_json(("\n".join(_row_json(r) for r in rows)).encode())

    def page(self, query: AuditQuery) -> dict:
        return page_result(self._rows(page_sql(query, TABLE, self._page_settings)), query.limit)

    def get(self, entry_id: str) -> dict | None:
        rows = self._rows(entry_sql(entry_id, TABLE, COLUMNS))
        if not rows:
            return None
        row = rows[0]
        for name in ("request_headers", "response_headers", "payload"):
            if row.get(name):  # stored as JSON text; served as JSON
                try:
                    row[name] = json.loads(row[name])
                except ValueError:
                    pass  # a cut payload is no longer JSON; show the text
        return row

    def export_csv(self, query: AuditQuery) -> Iterator[bytes]:
        """CSV with a header row of every matching entry, streamed in chunks.

        The header is written here and the rows asked for as plain CSV: chdb's
        stream repeats a CSVWithNames header at the top of every block."""
        yield (",".join(f'"{c}"' for c in COLUMNS) + "\n").encode()
        yield from self._stream(export_sql(query, TABLE, COLUMNS), "CSV")

    def count(self) -> int:
        # Twins share `at`, hence the monthly partition: FINAL need not merge across partitions.
        sql = f"SELECT count() AS n FROM {TABLE} FINAL SETTINGS do_not_merge_across_partitions_select_final = 1"
        return int(self._rows(Sql(sql))[0]["n"])

    def ping(self) -> str | None:
        try:
            self._rows(Sql("SELECT 1 AS ok"))
        except Exception as exc:
            return f"clickhouse: {type(exc).__name__}: {exc}"[:300]
        return None

    # backend hooks
    def _command(self, sql: str) -> None:
        raise NotImplementedError

    def _rows(self, sql: Sql) -> list[dict]:
        raise NotImplementedError

    def _insert_json(self, data: bytes) -> None:
        raise NotImplementedError

    def _stream(self, sql: Sql, fmt: str) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        pass


# chdb reads a query parameter's value in ClickHouse's escaped (TSV) form: a backslash, tab, newline or
# other control character in it (a searched word, an entry id) must be escaped, or the query fails.
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\0": "\\0"}
_ESCAPED = re.compile("[\\\\\t\n\r\b\f\0]")


def _escaped(params: dict) -> dict | None:
    """Query parameters as chdb reads them (None for none)."""
    return {
        name: _ESCAPED.sub(lambda m: _ESCAPES[m.group()], value) if isinstance(value, str) else value
        for name, value in params.items()
    } or None


class ChdbStore(AuditStore):
    def __init__(self, path: Path):
        from chdb import session as chs

        path.mkdir(parents=True, exist_ok=True)
        self.path = str(path.resolve())
        self._session = chs.Session(self.path)

    def _command(self, sql: str) -> None:
        self._session.query(sql, "TSV")

    def _rows(self, sql: Sql) -> list[dict]:
        text = self._session.query(sql.text, "JSONEachRow", params=_escaped(sql.params)).bytes()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _insert_json(self, data: bytes) -> None:
        # One plain query, not a streaming insert: a streaming call on a shared
        # session would be cut short by the next search on that session.
        self._session.query(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) FORMAT JSONEachRow\n" + data.decode(), "TSV")

    def _stream(self, sql: Sql, fmt: str) -> Iterator[bytes]:
        # A streaming query is cancelled by the next query on its session, so
        # each export gets its own session on the same directory (chdb allows
        # several in one process) and inserts carry on beside it.
        from chdb import session as chs

        session = chs.Session(self.path)
        try:
            with session.send_query(sql.text, fmt, params=_escaped(sql.params)) as stream:
                for chunk in stream:
                    data = chunk.bytes()
                    if data:
                        yield data
        finally:
            session.close()

    def close(self) -> None:
        self._session.close()


class ServerStore(AuditStore):
    """A ClickHouse server: `http(s)://user:password@host:port` (database `audit`)."""

    def __init__(self, url: str):
        import clickhouse_connect

        parts = urlparse(url)
        self._client = clickhouse_connect.get_client(
            host=parts.hostname,
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=parts.username or "default",
            password=parts.password or "",
            secure=parts.scheme == "https",
        )

    def _command(self, sql: str) -> None:
        self._client.command(sql)

    def _rows(self, sql: Sql) -> list[dict]:
        text = self._client.raw_query(sql.text, parameters=sql.params or None, fmt="JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _insert_json(self, data: bytes) -> None:
        self._client.raw_insert(TABLE, list(COLUMNS), insert_block=data, fmt="JSONEachRow")

    def _stream(self, sql: Sql, fmt: str) -> Iterator[bytes]:
        # The sync client hands back the urllib3 response; read it in blocks, not lines.
        response = cast(
            urllib3.BaseHTTPResponse, self._client.raw_stream(sql.text, parameters=sql.params or None, fmt=fmt)
        )
        try:
            yield from response.stream(64 * 1024)
        finally:
            response.close()

    def close(self) -> None:
        self._client.close()


def open_store(settings: Settings) -> AuditStore:
    store: AuditStore = (
        ServerStore(settings.clickhouse_url) if settings.clickhouse_url else ChdbStore(settings.data_dir / "chdb")
    )
    store.open(settings.audit_retention_days)
    return store
