"""One ingest cycle for one record type, and the emit path it shares with
force-sync and replay.

Order of effects, for at-least-once without loss: produce the changed records,
flush the producer (every record acknowledged by the broker), THEN upsert
`sync_records` with the new hashes, and only when every page is done advance
the cursor. A crash anywhere re-reads from the stored cursor and re-emits what
was not yet recorded; the writer dedupes by hash and its ledger.

Pages come in id order (forward-only paging), not lastUpdated order, so the
cursor can only move once the whole window is read: to the newest
`lastUpdated` seen. A record edited during the cycle on a page already read
has a lastUpdated after the cycle started; the next cycle's overlap (the
configured overlap plus the previous cycle's duration) still covers it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Callable

from ..common.codec import Codec
from ..common.redact import redact_text
from ..integrations.connectwise.client import CwApiError, CwClient, all_of
from ..common.record_kinds import RecordKind
from .event_frame import Gone, Reading
from .poller import RecordError, changed_since, content_hash, last_updated, window
from .metrics import CYCLE_SECONDS, CYCLES, EMITTED, LAST_SUCCESS
from .payments import force_sync_payment
from .refs import AccountManagers
from .sources import POLLED_TYPES, Source, source_for
from .publish import publish
from .store import Store

log = logging.getLogger(__name__)
DEFAULT_OVERLAP = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CycleStopped(Exception):
    """The service is stopping: the cycle ends between pages, its cursor unmoved, to resume at next start."""


class EmitError(RuntimeError):
    """The broker did not acknowledge every record; nothing is recorded as emitted."""


class Emitter:
    """Produces events keyed by ConnectWise id and waits for the broker's acknowledgements."""

    def __init__(self, producer, codec: Codec, flush_timeout: float = 30.0):
        self.producer, self.codec, self.flush_timeout = producer, codec, flush_timeout

    def emit(self, record_type: str, events: list[dict]) -> None:
        if not events:
            return
        topic = RecordKind(record_type).topic
        failures: list[str] = []

        def delivered(err, msg) -> None:
            if err is not None:
                failures.append(f"{msg.key()!r}: {err}")

        for event in events:
            value = self.codec.encode(topic.schema, event)
            while True:
                try:
                    self.producer.produce(
                        topic.name, key=str(event["cw_id"]).encode(), value=value, on_delivery=delivered
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain, then retry
                    self.producer.poll(0.5)
            self.producer.poll(0)
        remaining = self.producer.flush(self.flush_timeout)
        if remaining or failures:
            raise EmitError(
                f"{topic.name}: {remaining} records unacknowledged, {len(failures)} failed"
                + (f" (first: {failures[0]})" if failures else "")
            )
        for event in events:
            EMITTED.labels(record_type=record_type, trigger=event["trigger"], change=event["change"]).inc()


@dataclass
class Pipeline:
    """What a cycle, a force-sync and a replay work with."""

    client: CwClient
    store: Store
    emitter: Emitter
    managers: AccountManagers | None = None
    clock: Callable[[], datetime] = utcnow
    stop: threading.Event | None = None  # set when the service stops; cycles end at the next page

    def __post_init__(self) -> None:
        if self.managers is None:
            self.managers = AccountManagers(self.client)


@dataclass
class CycleResult:
    record_type: str
    trigger: str
    seen: int = 0
    emitted: int = 0
    failed: int = 0
    deleted: int = 0
    pages: int = 0
    cursor_from: datetime | None = None
    cursor_to: datetime | None = None
    seconds: float = 0.0
    skipped: bool = False
    emitted_ids: list[int] = field(default_factory=list)


def emit_records(
    p: Pipeline, records: list[dict], trigger: str, force: bool, result: CycleResult, *, source: Source
) -> None:
    """Emits the changed records of one page (all of them when `force`), then records them."""
    if not records:
        return
    rtype = source.record_type
    children = source.children(p.client, records, rtype)
    hashed = [(rec, content_hash(rec, children.get(int(rec["id"]), []))) for rec in records]
    known = {} if force else p.store.hashes(rtype, [str(rec["id"]) for rec in records])
    changed = [(rec, h) for rec, h in hashed if force or known.get(str(rec["id"])) != h]
    if not changed:
        return
    managers: dict[int, str | None] = {}
    if source.look_up_managers and p.managers is not None:  # made with the pipeline
        managers = p.managers.lookup(cid for rec, _ in changed if (cid := _company_id(rec, source)) is not None)
    observed = p.clock()
    events = []
    for rec, hash_ in changed:
        try:
            company_id = _company_id(rec, source)
            refs = {"account_manager_identifier": managers.get(company_id) if company_id is not None else None}
            events.append(
                source.to_event(rec, children.get(int(rec["id"]), []), Reading(trigger, observed, hash_), refs)
            )
        except (RecordError, ValueError, KeyError, TypeError) as exc:
            # One bad record must not stall the type: it is marked failed (hash cleared,
            # so it is read again while in the window) and the cycle goes on.
            log.error("cannot convert ConnectWise %s %s: %s", rtype, rec.get("id"), exc)
            p.store.record_failed(rtype, str(rec.get("id")), str(exc))
            result.failed += 1
    if events:
        _publish(p, source, events, observed, result)


def _publish(p: Pipeline, source: Source, events: list[dict], observed: datetime, result: CycleResult) -> None:
    publish(
        p,
        source.record_type,
        events,
        observed,
        result,
        number=source.number,
        customer=source.customer,
        amount="total",
        snapshot_of=source.snapshot_of,
    )


def _company_id(record: dict, source: Source) -> int | None:
    ref = record.get(source.company_ref)
    value = ref.get("id") if isinstance(ref, dict) else None
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def emit_deleted(p: Pipeline, source: Source, rows: list[dict], trigger: str, result: CycleResult) -> None:
    """Emits DELETED for records gone from ConnectWise, from what sync_records last knew."""
    if not rows:
        return
    observed = p.clock()
    events = [source.deleted_event(Gone.from_row(row, observed_at=observed, trigger=trigger)) for row in rows]
    _publish(p, source, events, observed, result)


def detect_deletions(p: Pipeline, source: Source, result: CycleResult) -> None:
    """A deleted record never shows up in a changed-since poll, so each cycle
    lists the ids of the type (one call per 1,000 records) and emits DELETED for
    those ingest emitted before that ConnectWise no longer has."""
    live = p.store.live(source.record_type)
    if not live:
        return
    present = {
        str(row["id"])
        for row in p.client.all(
            source.path, conditions=source.condition, fields="id", tags={"record_type": source.record_type}
        )
    }
    gone = [row for cw_id, row in live.items() if cw_id not in present]
    if gone:
        log.info("%d %s records deleted in ConnectWise", len(gone), source.record_type)
    emit_deleted(p, source, gone, "SCHEDULE", result)


def _effective_overlap(overlap: timedelta, started: datetime | None, finished: datetime | None) -> timedelta:
    if started and finished and finished >= started:
        return overlap + (finished - started)
    return overlap


def run_cycle(
    p: Pipeline, record_type: str, *, overlap: timedelta = DEFAULT_OVERLAP, trigger: str = "SCHEDULE"
) -> CycleResult:
    """Reads every record of `record_type` changed since the stored cursor
    (less the overlap), emits those whose hash changed, then advances the cursor."""
    source = source_for(record_type)
    result = CycleResult(record_type, trigger)
    store, clock = p.store, p.clock
    if not store.try_lock(record_type):
        log.info("cycle for %s already running elsewhere; skipped", record_type)
        CYCLES.labels(record_type=record_type, outcome="skipped").inc()
        result.skipped = True
        return result
    t0 = time.perf_counter()
    try:
        cursor = store.cursor(record_type)
        store.cycle_started(record_type, clock())
        result.cursor_from = cursor.cursor_at
        since = changed_since(
            cursor.cursor_at, _effective_overlap(overlap, cursor.last_cycle_started, cursor.last_cycle_finished)
        )
        newest: datetime | None = None
        conditions = all_of(source.condition, since)
        try:
            # One count call buys a progress figure for the dashboard (records read of the window's total).
            total = p.client.count(source.path, conditions)
            store.progress(record_type, 0, total)
            for page in p.client.pages(source.path, conditions=conditions, tags={"record_type": record_type}):
                if p.stop is not None and p.stop.is_set():
                    raise CycleStopped(f"{record_type} cycle stopped after {result.seen} records; it resumes at start")
                result.pages += 1
                result.seen += len(page)
                (source.page_handler or partial(emit_records, source=source))(p, page, trigger, False, result)
                store.progress(record_type, result.seen, max(total, result.seen))
                log.info(
                    "cycle %s: %d of %d read, %d emitted",
                    record_type,
                    result.seen,
                    max(total, result.seen),
                    result.emitted,
                )
                for rec in page:
                    try:
                        seen_at = last_updated(rec)
                    except RecordError:
                        continue
                    newest = seen_at if newest is None or seen_at > newest else newest
            if source.page_handler is None:
                detect_deletions(p, source, result)
        except CycleStopped:
            CYCLES.labels(record_type=record_type, outcome="interrupted").inc()
            store.cycle_finished(record_type, clock(), "interrupted", None)
            raise
        except BaseException as exc:
            CYCLES.labels(record_type=record_type, outcome="failed").inc()
            # Why, for the alert a run of failed cycles raises (secrets scrubbed: it is shown in an email).
            store.cycle_finished(
                record_type, clock(), "failed", None, error=redact_text(str(exc) or type(exc).__name__)[:500]
            )
            raise
        store.cycle_finished(record_type, clock(), "ok", newest)
        CYCLES.labels(record_type=record_type, outcome="ok").inc()
        LAST_SUCCESS.labels(record_type=record_type).set_to_current_time()
        result.cursor_to = newest or cursor.cursor_at
    finally:
        store.unlock(record_type)
        result.seconds = time.perf_counter() - t0
        CYCLE_SECONDS.labels(record_type=record_type).observe(result.seconds)
    log.info(
        "cycle %s (%s): %d seen, %d emitted (%d deleted), %d failed in %.2fs",
        record_type,
        trigger,
        result.seen,
        result.emitted,
        result.deleted,
        result.failed,
        result.seconds,
    )
    return result


def force_sync(p: Pipeline, record_type: str, record_id: str) -> CycleResult:
    """Fetches one record now and emits it whatever its hash; one ConnectWise no
    longer has, but ingest emitted before, is emitted as DELETED."""
    source = source_for(record_type)
    if record_type in (RecordKind.PAYMENT, RecordKind.REFUND):
        result = CycleResult(record_type, "FORCE_SYNC", seen=1)
        force_sync_payment(p, record_id, result, RecordKind(record_type))
        return result
    try:
        record = source.fetch(p.client, record_id)
    except CwApiError as exc:
        if exc.status != 404:
            raise
        result = CycleResult(record_type, "FORCE_SYNC")
        for rtype in _same_endpoint(source):
            row = p.store.known(rtype, str(record_id))
            if row and row["content_hash"]:  # emitted before (deleted or not): say it is gone, whatever the hash
                result.record_type = rtype
                emit_deleted(p, source_for(rtype), [row], "FORCE_SYNC", result)
                return result
        raise
    actual = source.type_of(record)
    if actual != record_type:
        log.warning("force-sync of %s %s: ConnectWise says it is a %s; emitted as that", record_type, record_id, actual)
    result = CycleResult(actual, "FORCE_SYNC", seen=1)
    emit_records(p, [record], "FORCE_SYNC", True, result, source=source_for(actual))
    return result


def _same_endpoint(source: Source) -> list[str]:
    """The record types read from the same endpoint, the asked-for one first
    (an invoice id asked for as a credit note is still that invoice)."""
    return [source.record_type] + [
        t
        for t in POLLED_TYPES
        if t != source.record_type and source_for(t).path == source.path and source_for(t).page_handler is None
    ]


def replay(p: Pipeline, record_type: str, start: datetime, end: datetime) -> CycleResult:
    """Re-emits every record of the type last updated within [start, end]."""
    source = source_for(record_type)
    result = CycleResult(record_type, "REPLAY")
    for page in p.client.pages(
        source.path, conditions=all_of(source.condition, window(start, end)), tags={"record_type": record_type}
    ):
        result.pages += 1
        result.seen += len(page)
        (source.page_handler or partial(emit_records, source=source))(p, page, "REPLAY", True, result)
    return result
