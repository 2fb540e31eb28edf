"""The write ledger in Postgres: which Xero record each ConnectWise record
became in each organisation, the content last written, and any write in flight.

Intent is recorded before a call (`pending_request_id`, `pending_hash`, the
`Idempotency-Key`) and the outcome after, together with the record's line in
`sync_records`, in one transaction. A row still pending at start-up is a call
whose outcome was never stored (a crash): `recovery.py` looks it up in Xero
before anything is written again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from ..common.database import Database
from ..common.lifecycle import Event
from ..common.natural_key import NaturalKey
from ..common.record_status import StatusChange, record_changes
from ..integrations.xero.client import XeroOrg


@dataclass(frozen=True)
class Entry:
    organisation_id: str
    record_type: str
    cw_id: str
    xero_id: str | None = None
    xero_status: str | None = None
    natural_key: str | None = None
    written_hash: str | None = None
    pending_request_id: str | None = None
    pending_hash: str | None = None
    idempotency_key: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.record_type, self.cw_id)


@dataclass(frozen=True)
class Outcome:
    """What became of one record's write; `event` is what it means for the record's status."""

    record_type: str
    cw_id: str
    outcome: str  # CREATED, UPDATED, VOIDED, DELETED, REJECTED, FAILED, RECOVERED
    event: Event | None  # WRITTEN, REJECTED, FAILED or SKIPPED; None: a step that leaves the status alone
    xero_id: str | None = None
    xero_status: str | None = None
    written_hash: str | None = None  # set when Xero now holds this content
    natural_key: str | None = None
    error: str | None = None
    keep_pending: bool = False  # the call may have landed: look it up before writing again
    observed_at: datetime | None = None  # of the content written (None: as of the record's current content)

    def status_change(self, organisation_id: str) -> StatusChange:
        assert self.event is not None
        return StatusChange(
            self.record_type,
            self.cw_id,
            self.event,
            observed_at=self.observed_at,
            error=self.error,
            organisation_id=organisation_id,
            xero_id=self.xero_id,
            xero_status=self.xero_status,
            record_number=_number(self.natural_key),
        )


_FIELDS = ", ".join(Entry.__dataclass_fields__)


def _number(natural_key: str | None) -> str | None:
    try:
        return NaturalKey.parse(natural_key).number if natural_key else None
    except ValueError:
        return None


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    def close(self) -> None:
        self.db.close()

    def organisation(self, organisation_id: str) -> tuple[XeroOrg, str] | None:
        """(the organisation's Xero coordinates, its status) or None when unknown."""
        with self.db.connection() as conn:
            row = conn.execute(
                "select id, tenant_id, status from organisations where id = %s", (organisation_id,)
            ).fetchone()
        return (XeroOrg(row["id"], row["tenant_id"]), row["status"]) if row else None

    def entries(self, organisation_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Entry]:
        if not keys:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                f"select {_FIELDS} from xero_ledger where organisation_id = %s and (record_type, cw_id) in "
                f"(select * from unnest(%s::text[], %s::text[]))",
                (organisation_id, [k[0] for k in keys], [k[1] for k in keys]),
            ).fetchall()
        return {(r["record_type"], r["cw_id"]): Entry(**r) for r in rows}

    def entries_settled(
        self, organisation_id: str, keys: list[tuple[str, str]], settle: Callable[[list[Entry]], object]
    ) -> dict[tuple[str, str], Entry]:
        """The entries of these records, after `settle` has found out in Xero what became of any
        call whose outcome was never stored (a crash): nothing is written again before that."""
        entries = self.entries(organisation_id, keys)
        pending = [e for e in entries.values() if e.pending_request_id]
        if pending:
            settle(pending)
            entries = self.entries(organisation_id, keys)
        return entries

    def pending(self, organisation_id: str | None = None) -> list[Entry]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"select {_FIELDS} from xero_ledger where pending_request_id is not null "
                f"and (%s::text is null or organisation_id = %s) order by organisation_id, pending_since",
                (organisation_id, organisation_id),
            ).fetchall()
        return [Entry(**r) for r in rows]

    def mark_pending(
        self, organisation_id: str, intents: list[tuple[str, str, str, str, str]], idempotency_key: str
    ) -> None:
        """intents: (record_type, cw_id, natural_key, request_id, content_hash), stored before the call."""
        with self.db.unit_of_work() as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into xero_ledger (organisation_id, record_type, cw_id, natural_key, pending_request_id, "
                    "pending_hash, pending_since, idempotency_key) values (%s, %s, %s, %s, %s, %s, now(), %s) "
                    "on conflict (organisation_id, record_type, cw_id) do update set natural_key = "
                    "excluded.natural_key, "
                    "pending_request_id = excluded.pending_request_id, pending_hash = excluded.pending_hash, "
                    "pending_since = now(), idempotency_key = excluded.idempotency_key, updated_at = now()",
                    [(organisation_id, rt, cw, nk, rid, h, idempotency_key) for rt, cw, nk, rid, h in intents],
                )

    def record(self, organisation_id: str, outcomes: list[Outcome]) -> None:
        """Stores outcomes in the ledger and the records' status, all in one transaction."""
        if not outcomes:
            return
        now = datetime.now(timezone.utc)
        with self.db.unit_of_work() as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into xero_ledger (organisation_id, record_type, cw_id, xero_id, xero_status, natural_key, "
                    "written_hash, last_outcome, last_error, updated_at) values (%(org)s, %(rt)s, %(cw)s, %(xid)s, "
                    "%(xs)s, %(nk)s, %(wh)s, %(oc)s, %(err)s, %(now)s) "
                    "on conflict (organisation_id, record_type, cw_id) do update set "
                    "xero_id = coalesce(excluded.xero_id, xero_ledger.xero_id), "
                    "xero_status = coalesce(excluded.xero_status, xero_ledger.xero_status), "
                    "natural_key = coalesce(excluded.natural_key, xero_ledger.natural_key), "
                    "written_hash = coalesce(excluded.written_hash, xero_ledger.written_hash), "
                    "pending_request_id = case when %(keep)s then xero_ledger.pending_request_id end, "
                    "pending_hash = case when %(keep)s then xero_ledger.pending_hash end, "
                    "pending_since = case when %(keep)s then xero_ledger.pending_since end, "
                    "last_outcome = excluded.last_outcome, last_error = excluded.last_error, updated_at = %(now)s",
                    [self._params(organisation_id, o, now) for o in outcomes],
                )
            record_changes(conn, [o.status_change(organisation_id) for o in outcomes if o.event is not None])

    @staticmethod
    def _params(organisation_id: str, o: Outcome, now: datetime) -> dict:
        return {
            "org": organisation_id,
            "rt": o.record_type,
            "cw": o.cw_id,
            "xid": o.xero_id,
            "xs": o.xero_status,
            "nk": o.natural_key,
            "wh": o.written_hash,
            "oc": o.outcome,
            "err": o.error,
            "now": now,
            "keep": o.keep_pending,
        }

    def clear_pending(self, organisation_id: str, keys: list[tuple[str, str]]) -> None:
        """The call never landed: forget the intent (the request will be written afresh)."""
        with self.db.unit_of_work() as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "update xero_ledger set pending_request_id = null, pending_hash = null, pending_since = null, "
                    "updated_at = now() where organisation_id = %s and record_type = %s and cw_id = %s",
                    [(organisation_id, rt, cw) for rt, cw in keys],
                )

    def xero_ids(self, organisation_id: str, record_type: str) -> set[str]:
        """The Xero ids the ledger holds for this record type (to tell ours from others')."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "select xero_id from xero_ledger where organisation_id = %s and record_type = %s"
                " and xero_id is not null",
                (organisation_id, record_type),
            ).fetchall()
        return {r["xero_id"] for r in rows}
