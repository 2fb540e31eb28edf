"""Postgres adapter of the mapper's money path: the facts a money decision needs
(where Xero holds the money and its documents, whether those can be synced, the
no-echo checks) and the money held until its document is in Xero.

Held money is kept as the event that arrived, so releasing it decides it again
exactly as if it had just arrived; a write result for the document it waits for,
a periodic sweep, or a force-sync releases it.
"""

from __future__ import annotations

from ..common import echo
from ..common.database import Database
from ..common.record_kinds import RecordKind
from ..common.written import written
from .money import Document, MoneyFacts, documents_of

SWEEP_BATCH = 500


class MoneyStore:
    def __init__(self, db: Database):
        self.db = db

    def facts(self, record: dict) -> MoneyFacts:
        targets = documents_of(record)
        own_key = (str(record["record_type"]), str(record["cw_id"]))
        with self.db.connection() as conn:
            found = written(conn, [own_key, *((kind.value, cw_id) for kind, cw_id, _ in targets)])
            rows = conn.execute(
                "select record_type, cw_id, status, last_error, record_number from sync_records"
                " where (record_type, cw_id) in (select * from unnest(%s::text[], %s::text[]))",
                ([k.value for k, _, _ in targets], [c for _, c, _ in targets]),
            ).fetchall()
            by_key = {(r["record_type"], r["cw_id"]): r for r in rows}
            documents = []
            for kind, cw_id, number in targets:
                row = by_key.get((kind.value, cw_id)) or {}
                documents.append(
                    Document(
                        kind,
                        cw_id,
                        number or row.get("record_number") or "",
                        found.get((kind.value, cw_id), []),
                        row.get("status"),
                        row.get("last_error"),
                    )
                )
            from_matcher = record["record_type"] == RecordKind.PAYMENT and echo.created_by_matcher(
                conn, record["cw_id"]
            )
            in_flight = (
                record["record_type"] == RecordKind.PAYMENT
                and not record.get("credit_memo_id")
                and echo.matcher_in_flight(conn, record["invoice_id"])
            )
        return MoneyFacts(found.get(own_key, []), documents, from_matcher, in_flight)

    def hold(self, record: dict, document: Document, event: bytes, reason: str) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "insert into held_money (record_type, cw_id, document_type, document_cw_id, event, reason)"
                " values (%s, %s, %s, %s, %s, %s) on conflict (record_type, cw_id) do update set"
                " document_type = excluded.document_type, document_cw_id = excluded.document_cw_id,"
                " event = excluded.event, reason = excluded.reason",
                (str(record["record_type"]), str(record["cw_id"]), document.kind.value, document.cw_id, event, reason),
            )

    def release(self, record: dict) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "delete from held_money where record_type = %s and cw_id = %s",
                (str(record["record_type"]), str(record["cw_id"])),
            )

    def waiting_for(self, document_type: str, document_cw_id: str) -> list[bytes]:
        """The events of money held for this document."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "select event from held_money where document_type = %s and document_cw_id = %s order by held_since",
                (document_type, str(document_cw_id)),
            ).fetchall()
        return [bytes(r["event"]) for r in rows]

    def oldest_held(self, limit: int = SWEEP_BATCH) -> list[bytes]:
        with self.db.connection() as conn:
            rows = conn.execute("select event from held_money order by held_since limit %s", (limit,)).fetchall()
        return [bytes(r["event"]) for r in rows]
