"""Wiring of the mapper: one Faust agent per ConnectWise record topic. Each
record is routed and mapped with the configuration as it is now, and becomes a
write request on xero.writes.v1 (keyed by organisation, so one organisation's
writes stay in order) or sync exceptions on sync.exceptions.v1.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

import faust
from prometheus_client import Counter

from ..common.codec import Codec
from ..common.database import Database
from ..common.lifecycle import Event
from ..common.record_kinds import DOCUMENT_KINDS, RecordKind
from ..common.record_status import StatusChange, record_changes
from ..common.settings import Settings
from ..common.shadow_report import ShadowOutcome, record_outcomes
from ..common.streams import decoded_agent, make_app, raw_topic
from ..common.topics import (
    SYNC_EXCEPTIONS,
    XERO_DOCUMENT_STATES,
    XERO_WRITE_RESULTS,
    XERO_WRITES,
)
from ..common.written import written_to
from ..mapping import repository as repo
from ..mapping.model import Snapshot
from .decide import Decision, decide
from .money import decide_money
from .money_store import MoneyStore

log = logging.getLogger(__name__)
MAPPED = Counter("cz_mapper_records_total", "Records mapped, by outcome", ["record_type", "outcome"])


class MappingSource:
    """The configuration snapshot, reloaded whenever a change has been recorded, and the
    records' status as the mapper decides them.

    One cheap query per record (the latest change seq) keeps a change to rules
    or mappings effective from the next record, without a restart.
    """

    def __init__(self, db: Database):
        self.db = db
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()  # one reload at a time

    def current(self) -> Snapshot:
        with self._lock, self.db.connection() as conn:
            version = repo.config_version(conn)
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = repo.load_snapshot(conn)
                log.info(
                    "configuration version %s loaded: %d organisations, %d rules",
                    self._snapshot.version,
                    len(self._snapshot.orgs),
                    len(self._snapshot.rules),
                )
            return self._snapshot

    def record_status(self, record: dict, decision: Decision) -> None:
        """Marks the record mapped, waiting, skipped or exception (with the organisation and why)
        before anything is sent; the writer's outcome for the same observation follows."""
        hold = getattr(decision, "hold", None)
        if decision.writes:
            event, why = Event.MAPPED, None
        elif hold is not None:
            event, why = Event.HELD, hold.reason
        elif decision.before_go_live:
            event, why = Event.BEFORE_GO_LIVE, decision.before_go_live
        elif decision.skip:
            event, why = Event.SKIPPED, decision.skip
        else:
            event, why = Event.RAISED, "; ".join(e["message"] for _, _, e in decision.exceptions)
        number = record.get("invoice_number") or record.get("po_number")
        customer = record.get("company_identifier") or record.get("vendor_company_identifier")
        change = StatusChange(
            record["record_type"],
            str(record["cw_id"]),
            event,
            observed_at=record.get("observed_at"),
            error=why,
            organisation_id=decision.organisation_id,
            record_number=number,
            customer=customer,
        )
        shadow = self._shadow_outcome(record, decision, event, why, number, customer)
        with self.db.unit_of_work() as conn:
            record_changes(conn, [change])
            record_outcomes(conn, [shadow] if shadow else [])

    def _shadow_outcome(self, record: dict, decision: Decision, event: Event, why: str | None, number, customer):
        """What the shadow report says of a decision that writes nothing, for an organisation in
        a shadow run (the writer reports what it would write)."""
        org = self._snapshot.orgs.get(decision.organisation_id or "") if self._snapshot else None
        if org is None or not org.settings.shadow or event is Event.MAPPED:
            return None
        outcome, detail = {
            Event.HELD: ("wait", "waiting"),
            Event.BEFORE_GO_LIVE: ("skip", "before_go_live"),
            Event.SKIPPED: ("skip", "skipped"),
        }.get(event, ("exception", None))
        if outcome == "exception":
            detail = ", ".join(sorted({e["kind"] for _, _, e in decision.exceptions}))
        return ShadowOutcome(
            org.organisation_id,
            record["record_type"],
            str(record["cw_id"]),
            outcome,
            detail,
            why,
            number,
            customer,
            record.get("total", record.get("amount")),
            observed_at=record.get("observed_at"),
        )

    def written_to(self, record_type: str, cw_id) -> list[str]:
        """Organisations whose Xero holds this record, from the writer's ledger."""
        with self.db.connection() as conn:
            return written_to(conn, record_type, cw_id)


async def postgres_call(fn, *args):
    """Runs a Postgres call in a thread, off the event loop. An outage raises, and the
    agent's error policy (`common/consumer_policy.py`) waits it out and tries the record
    again: it is held back, never dead-lettered."""
    return await asyncio.to_thread(fn, *args)


async def _emit(decision: Decision, send) -> None:
    sent = [await send(topic, key, "xero_write_request", event) for topic, key, event in decision.writes]
    sent += [await send(topic, key, "sync_exception", event) for topic, key, event in decision.exceptions]
    for delivery in sent:  # acknowledged by the broker before the offset can be committed
        await delivery


async def process(record: dict, source: MappingSource, send) -> Decision:
    """Maps one record and sends what it becomes; `send(topic, key, schema, event)`
    returns an awaitable that completes when the broker has the message."""
    snapshot = await postgres_call(source.current)
    written = await postgres_call(source.written_to, record["record_type"], record["cw_id"])
    decision = decide(record, snapshot, datetime.now(UTC), written)
    await postgres_call(source.record_status, record, decision)
    await _emit(decision, send)
    return decision


async def process_money(record: dict, event: bytes, source: MappingSource, store: MoneyStore, send) -> Decision:
    """Decides one payment, credit application or refund; money that must wait is kept
    (as `event`, its encoded form) until its document is in Xero."""
    snapshot = await postgres_call(source.current)
    facts = await postgres_call(store.facts, record)
    decision = decide_money(record, facts, snapshot, datetime.now(UTC))
    if decision.hold is not None:
        await postgres_call(store.hold, record, decision.hold.document, event, decision.hold.reason)
    await postgres_call(source.record_status, record, decision)
    await _emit(decision, send)
    if decision.hold is None:
        await postgres_call(store.release, record)
    return decision


def _outcome(decision: Decision) -> str:
    if decision.writes:
        return "write"
    if decision.before_go_live:
        return "before_go_live"
    return "held" if getattr(decision, "hold", None) else "skipped" if decision.skip else "exception"


def build_app(
    settings: Settings, codec: Codec | None = None, source: MappingSource | None = None, store: MoneyStore | None = None
) -> faust.App:
    codec = codec or Codec.from_directory()
    if source is None or store is None:
        db = Database(settings.postgres_url)
        source, store = source or MappingSource(db), store or MoneyStore(db)
    app = make_app("mapper", settings)
    outputs = {XERO_WRITES.name: raw_topic(app, XERO_WRITES), SYNC_EXCEPTIONS.name: raw_topic(app, SYNC_EXCEPTIONS)}

    async def send(topic: str, key: bytes, schema: str, event: dict):
        return await outputs[topic].send(key=key, value=codec.encode(schema, event))

    def logged(record: dict, decision: Decision, ctx: dict) -> None:
        MAPPED.labels(record_type=record["record_type"], outcome=_outcome(decision)).inc()
        log.info(
            "%s %s -> %s (%s)",
            record["record_type"],
            record["cw_id"],
            decision.organisation_id or "no organisation",
            decision.before_go_live
            or decision.reason
            or decision.skip
            or getattr(getattr(decision, "hold", None), "reason", None)
            or "; ".join(e["kind"] for _, _, e in decision.exceptions),
            extra=ctx,
        )

    async def handle(name: str, record: dict, ctx: dict) -> None:
        decision = await process(record, source, send)
        logged(record, decision, ctx)
        if not decision.writes:  # the document will not reach Xero now: money waiting for it learns why
            await release(record["record_type"], record["cw_id"], "its document was decided")

    async def handle_money(name: str, record: dict, ctx: dict) -> None:
        logged(record, await process_money(record, codec.encode(name, record), source, store, send), ctx)

    async def decide_again(events: list[bytes], why: str) -> None:
        for raw in events:
            name, record = codec.decode(raw)
            await handle_money(name, record, {"released": why})

    async def release(record_type: str, cw_id, why: str) -> None:
        held = await postgres_call(store.waiting_for, record_type, str(cw_id))
        if held:
            await decide_again(held, why)

    async def handle_result(name: str, result: dict, ctx: dict) -> None:
        # A document written to Xero (or refused there) releases the money waiting for it.
        if result["record_type"] in DOCUMENT_KINDS:
            await release(
                result["record_type"],
                result["cw_id"],
                f"{result['record_type']} {result['cw_id']} {result['outcome'].lower()}",
            )

    async def handle_state(name: str, state: dict, ctx: dict) -> None:
        # A document approved in Xero (a webhook told xero_status) releases the money waiting for it now.
        if state["record_type"] in DOCUMENT_KINDS and state["xero_status"] in ("AUTHORISED", "PAID"):
            await release(
                state["record_type"],
                state["cw_id"],
                f"{state['record_type']} {state['cw_id']} {state['xero_status'].lower()} in Xero",
            )

    for kind in DOCUMENT_KINDS:
        decoded_agent(app, kind.topic, codec, handle, "mapper")
    for kind in (RecordKind.PAYMENT, RecordKind.REFUND):
        decoded_agent(app, kind.topic, codec, handle_money, "mapper")
    decoded_agent(app, XERO_WRITE_RESULTS, codec, handle_result, "mapper")
    decoded_agent(app, XERO_DOCUMENT_STATES, codec, handle_state, "mapper")

    @app.timer(settings.held_money_sweep_seconds, on_leader=False)
    async def sweep() -> None:
        # What nothing else releases (an approval whose webhook was lost, the matcher settled) is looked at again.
        await decide_again(await postgres_call(store.oldest_held), "sweep")

    return app
