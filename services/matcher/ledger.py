"""The matcher's ledger in Postgres (migrations 045 and 050): each application
of a Xero payment in ConnectWise (`cw_payment_applications`: intent before the
call, outcome after), the newest version of each payment decided
(`matcher_payments`), and, through the shared owners, the payment's record
status (`record_status`) and the no-echo rule (`echo`).

The matcher works in batches, so every read and write here takes a whole batch
at once; each write is its own transaction, committed before the ConnectWise
call that follows it.
"""

from __future__ import annotations

import json
from decimal import Decimal

from ..common import echo
from ..common.database import Database
from ..common.db import Conn
from ..common.record_kinds import RecordKind
from ..common.record_status import StatusChange, record_changes
from ..common.written import invoices_by_xero_id
from .match import Applied
from .ports import InFlight, Key, Outcome, PaymentState
from .xero_money import XeroMoney, from_json, to_json

RECORD_TYPE = RecordKind.XERO_PAYMENT.value
# Exceptions the matcher raises on a payment, resolved when the payment is settled after all.
RESOLVABLE = ("unmatched_payment", "overpayment", "application_unsettled")
_ROW = (
    "id, organisation_id, xero_payment_id, cw_invoice_id, cw_payment_id, amount, state, payment_date, "
    "max_cw_payment_before"
)


def _pairs(keys) -> tuple[list[str], list[str]]:
    return [k[0] for k in keys], [k[1] for k in keys]


def _in_flight(row: dict) -> InFlight:
    return InFlight(
        row["id"],
        row["organisation_id"],
        row["xero_payment_id"],
        row["cw_invoice_id"],
        row["state"],
        row["amount"],
        row["payment_date"],
        row["cw_payment_id"],
        row["max_cw_payment_before"],
    )


class PostgresLedger:
    def __init__(self, db: Database):
        self.db = db

    def _rows(self, sql: str, params=None) -> list[dict]:
        with self.db.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _run(self, sql: str, params) -> None:
        with self.db.connection() as conn:
            conn.execute(sql, params)

    # --- reading ------------------------------------------------------------------------

    def states(self, keys: list[Key]) -> dict[Key, PaymentState]:
        orgs, ids = _pairs(keys)
        states = {key: PaymentState() for key in keys}
        for row in self._rows(
            "select organisation_id, xero_payment_id, xero_updated_at from matcher_payments"
            " where (organisation_id, xero_payment_id) in (select * from unnest(%s::text[], %s::text[]))",
            (orgs, ids),
        ):
            states[(row["organisation_id"], row["xero_payment_id"])].version = row["xero_updated_at"]
        for row in self._rows(
            f"select {_ROW} from cw_payment_applications"
            " where (organisation_id, xero_payment_id) in (select * from unnest(%s::text[], %s::text[]))",
            (orgs, ids),
        ):
            state = states[(row["organisation_id"], row["xero_payment_id"])]
            if row["state"] == "reversed":
                state.reversed = True
            elif row["state"] == "applied":
                state.live = Applied(row["id"], row["cw_invoice_id"], row["cw_payment_id"], row["amount"])
            else:
                state.in_flight.append(_in_flight(row))
        return states

    def echoes(self, moneys: list[XeroMoney]) -> dict[Key, str]:
        """The no-echo rule (`common/echo.py`) for a batch: what this product wrote each payment from,
        for those it wrote."""
        found: dict[Key, str] = {}
        for money in moneys:
            marked = echo.marked_source(money.reference)
            if marked is not None:
                found[money.key] = f"ConnectWise {marked[0]} {marked[1]}"
        unmarked = [m.key for m in moneys if m.key not in found]
        with self.db.connection() as conn:
            written = echo.payments_written_by_writer(conn, unmarked)
        for key in written:
            found[key] = "a ConnectWise payment (the writer's ledger holds this Xero payment)"
        return found

    def targets(self, wanted: dict[Key, tuple[str | None, list[str]]]) -> dict[Key, tuple[int, str]]:
        found: dict[Key, tuple[int, str]] = {}
        by_xero = [(k[0], xero_id) for k, (xero_id, _) in wanted.items() if xero_id]
        if by_xero:
            # The writer's ledger: the Xero invoice this product wrote for a ConnectWise invoice.
            with self.db.connection() as conn:
                written = invoices_by_xero_id(conn, by_xero)
            for key, (xero_id, _) in wanted.items():
                if xero_id and (key[0], xero_id) in written:
                    found[key] = (written[(key[0], xero_id)], "ledger")
        numbers = sorted({n for key, (_, names) in wanted.items() if key not in found for n in names})
        if numbers:
            # Invoices ingest has seen, routed to the payment's organisation (or not routed yet).
            by_number: dict[tuple[str, str | None], int] = {}
            for r in self._rows(
                "select cw_id, record_number, organisation_id from sync_records where record_type = 'invoice'"
                " and record_number = any(%s)",
                (numbers,),
            ):
                by_number[(r["record_number"], r["organisation_id"])] = int(r["cw_id"])
            for key, (_, names) in wanted.items():
                for number in names if key not in found else ():
                    hit = by_number.get((number, key[0]), by_number.get((number, None)))
                    if hit is not None:
                        found[key] = (hit, "number")
                        break
        return found

    def applied_on(self, cw_invoice_ids: list[int]) -> dict[int, Decimal]:
        if not cw_invoice_ids:
            return {}
        return {
            r["cw_invoice_id"]: r["total"]
            for r in self._rows(
                "select cw_invoice_id, sum(amount) as total from cw_payment_applications where state = 'applied'"
                " and cw_invoice_id = any(%s) group by cw_invoice_id",
                (cw_invoice_ids,),
            )
        }

    def claimed(self, cw_payment_ids: list[int]) -> set[int]:
        """The bulk form of `echo.created_by_matcher`."""
        if not cw_payment_ids:
            return set()
        return {
            r["cw_payment_id"]
            for r in self._rows(
                "select cw_payment_id from cw_payment_applications where cw_payment_id = any(%s)", (cw_payment_ids,)
            )
        }

    def in_flight(self) -> list[InFlight]:
        return [
            _in_flight(r)
            for r in self._rows(
                f"select {_ROW} from cw_payment_applications where state in ('applying', 'reversing') order by id"
            )
        ]

    def waiting_on(self, cw_invoice_ids: list[int]) -> list[XeroMoney]:
        return [
            from_json(r["money"])
            for r in self._rows(
                "select money from matcher_payments where outcome = 'raised' and exception_kind = 'unmatched_payment'"
                " and cw_invoice_id = any(%s) order by xero_updated_at",
                (cw_invoice_ids,),
            )
        ]

    # --- writing ------------------------------------------------------------------------

    def intend(self, intents: list[tuple[XeroMoney, int, Decimal, int]]) -> list[int]:
        columns = list(
            zip(
                *[
                    (m.organisation_id, m.payment_id, m.invoice_id, invoice_id, amount, m.payment_date, highest)
                    for m, invoice_id, amount, highest in intents
                ],
                strict=True,
            )
        )
        rows = self._rows(
            "insert into cw_payment_applications (organisation_id, xero_payment_id, xero_invoice_id, cw_invoice_id,"
            " amount, payment_date, max_cw_payment_before, state) select *, 'applying' from unnest(%s::text[],"
            " %s::text[], %s::text[], %s::bigint[], %s::numeric[], %s::date[], %s::bigint[])"
            " returning id, organisation_id, xero_payment_id",
            [list(c) for c in columns],
        )
        ids = {(r["organisation_id"], r["xero_payment_id"]): r["id"] for r in rows}  # one live row per payment
        return [ids[m.key] for m, _, _, _ in intents]

    def applied(self, done: list[tuple[int, int]]) -> None:
        if done:
            self._run(
                "update cw_payment_applications a set state = 'applied', cw_payment_id = d.pid, updated_at = now()"
                " from unnest(%s::bigint[], %s::bigint[]) as d(id, pid) where a.id = d.id and a.state = 'applying'",
                ([row for row, _ in done], [pid for _, pid in done]),
            )

    def forget(self, row_ids: list[int]) -> None:
        if row_ids:
            self._run("delete from cw_payment_applications where id = any(%s) and state = 'applying'", (row_ids,))

    def reversing(self, row_ids: list[int]) -> None:
        self._set_state(row_ids, "reversing")

    def reversed(self, row_ids: list[int]) -> None:
        self._set_state(row_ids, "reversed")

    def _set_state(self, row_ids: list[int], state: str) -> None:
        if row_ids:
            self._run(
                "update cw_payment_applications set state = %s, updated_at = now() where id = any(%s)", (state, row_ids)
            )

    def record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        # One JSON document for the batch: Postgres unpacks it faster than a driver writes ten arrays.
        decided = json.dumps(
            [
                {
                    "organisation_id": o.money.organisation_id,
                    "xero_payment_id": o.money.payment_id,
                    "xero_updated_at": o.money.updated_at.isoformat(),
                    "outcome": o.event.value,
                    "exception_kind": o.exception.kind if o.exception else None,
                    "note": o.note,
                    "cw_invoice_id": o.target.id if o.target else None,
                    "xero_invoice_id": o.money.invoice_id,
                    "amount": str(o.money.amount),
                    "money": to_json(o.money),
                }
                for o in outcomes
            ]
        )
        with self.db.unit_of_work() as conn:
            conn.execute(
                "insert into matcher_payments (organisation_id, xero_payment_id, xero_updated_at, outcome,"
                " exception_kind, note, cw_invoice_id, xero_invoice_id, amount, money) select * from"
                " jsonb_to_recordset(%s::jsonb) as d(organisation_id text, xero_payment_id text,"
                " xero_updated_at timestamptz, outcome text, exception_kind text, note text, cw_invoice_id bigint,"
                " xero_invoice_id text, amount numeric, money jsonb) on conflict (organisation_id, xero_payment_id)"
                " do update set xero_updated_at = excluded.xero_updated_at, outcome = excluded.outcome,"
                " exception_kind = excluded.exception_kind, note = excluded.note,"
                " cw_invoice_id = excluded.cw_invoice_id, xero_invoice_id = excluded.xero_invoice_id,"
                " amount = excluded.amount, money = excluded.money, decided_at = now()"
                " where matcher_payments.xero_updated_at <= excluded.xero_updated_at",
                (decided,),
            )
            record_changes(conn, [_status_change(o) for o in outcomes])
            settled = [o.money for o in outcomes if o.settles]
            if settled:
                # The alerts service owns exceptions; this marks the payment's own ones resolved, as the
                # admin API's resolve does, once the matcher has settled it after all.
                conn.execute(
                    "update exceptions set status = 'resolved', resolved_at = now(), resolved_by = 'matcher'"
                    " where status = 'open' and record_type = %s and kind = any(%s)"
                    " and (organisation_id, record_id) in (select * from unnest(%s::text[], %s::text[]))",
                    (RECORD_TYPE, list(RESOLVABLE), *_pairs([m.key for m in settled])),
                )


def resolve_settled(conn: Conn) -> int:
    """Resolves exceptions still open on payments the matcher has settled since. The matcher
    resolves them as it settles a payment, but the alerts service records an exception from
    Kafka, so one raised moments before the payment settled can be recorded after that; this
    sweep (after each balance check) closes those."""
    return conn.execute(
        "update exceptions e set status = 'resolved', resolved_at = now(), resolved_by = 'matcher'"
        " from matcher_payments m where e.status = 'open' and e.record_type = %s and e.kind = any(%s)"
        " and m.organisation_id = e.organisation_id and m.xero_payment_id = e.record_id"
        " and m.outcome in ('written', 'skipped')",
        (RECORD_TYPE, list(RESOLVABLE)),
    ).rowcount


def _status_change(outcome: Outcome) -> StatusChange:
    money, invoice = outcome.money, outcome.target
    customer = (invoice.company_identifier or invoice.company_name) if invoice else money.contact_name
    return StatusChange(
        RECORD_TYPE,
        money.payment_id,
        outcome.event,
        observed_at=money.observed_at,
        error=outcome.note,
        organisation_id=money.organisation_id,
        xero_id=money.payment_id,
        xero_status=money.status,
        record_number=money.invoice_number or (invoice.number if invoice else None),
        customer=customer,
    )
