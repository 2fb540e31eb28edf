"""The consumer of `cw.callbacks.v1`: hints gathered (callback_hints.py), their
records fetched through the normal path (callback_fetch.py), offsets committed
only up to the first hint not yet fetched, so a crash loses none (they come again
and, their records unchanged by then, emit nothing twice).

Under the one error policy: ConnectWise or Postgres out of reach holds the hints
and tries again after a growing pause; a hint that cannot be read goes to the
dead-letter topic; a record ConnectWise refuses outright is left to the next
cycle, which reads every change anyway.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition

from ..common.codec import Codec
from ..common.kafka import LOW_LATENCY, make_consumer, send_to_dead_letter
from ..common.metrics import MESSAGES, POISON
from ..common.settings import Settings
from ..common.topics import CW_CALLBACKS
from ..integrations.connectwise.client import CwApiError
from .callback_fetch import ENDPOINTS, fetch_hinted
from .callback_hints import Coalescer, Hint, commit_positions
from .callback_store import CallbackStore
from .cycle import Pipeline
from .metrics import CALLBACK_HINTS

log = logging.getLogger(__name__)
GROUP = "ingest-callbacks"
PAUSE_FIRST, PAUSE_MAX = 0.5, 30.0


def transient(exc: BaseException) -> bool:
    """An outage worth waiting out, as opposed to a refusal no retry changes."""
    if isinstance(exc, CwApiError):
        return exc.status == 0 or exc.status == 429 or exc.status >= 500
    return isinstance(exc, (psycopg.OperationalError, ConnectionError, TimeoutError))


class CallbackConsumer:
    def __init__(self, pipeline: Pipeline, store: CallbackStore, codec: Codec, coalescer: Coalescer,
                 clock: Callable[[], float] = time.monotonic):
        self.pipeline, self.store, self.codec, self.coalescer, self.clock = pipeline, store, codec, coalescer, clock
        self.consumed: dict[int, int] = {}  # partition -> last offset read
        self.committed: dict[int, int] = {}
        self.failures = 0
        self.running = False

    def take_in(self, msgs: list, producer) -> None:
        now = self.clock()
        for msg in msgs:
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", msg.error())
                continue
            self.consumed[msg.partition()] = msg.offset()
            try:
                _, record = self.codec.decode(msg.value())
                hint = Hint(str(record["cw_type"]), int(record["cw_id"]))
                if hint.cw_type not in ENDPOINTS:
                    raise ValueError(f"cw_type: {hint.cw_type!r} is not a callback ingest follows")
            except (ValueError, KeyError, TypeError) as exc:
                POISON.labels(service="ingest", topic=msg.topic()).inc()
                send_to_dead_letter(producer, msg, exc, "ingest")
                continue
            MESSAGES.labels(service="ingest", topic=msg.topic()).inc()
            if hint in self.coalescer:
                CALLBACK_HINTS.labels(outcome="coalesced").inc()
            self.coalescer.add(hint, now, (msg.partition(), msg.offset()))

    def fetch_due(self) -> None:
        now = self.clock()
        hints = self.coalescer.take(now)
        by_type: dict[str, list[Hint]] = {}
        for hint in hints:
            by_type.setdefault(hint.cw_type, []).append(hint)
        for cw_type, group in by_type.items():
            try:
                self._fetch(cw_type, group, now)
                self.failures = 0
            except Exception as exc:
                if not transient(exc):
                    log.error("callbacks for %d %s records not fetched (the next cycle reads them): %s",
                              len(group), cw_type, exc)
                    CALLBACK_HINTS.labels(outcome="dropped").inc(len(group))
                    self.coalescer.done(group)
                    continue
                self.failures += 1
                wait = min(PAUSE_FIRST * 2 ** (self.failures - 1), PAUSE_MAX)
                log.warning("callbacks for %d %s records wait %.1fs: %s", len(group), cw_type, wait, exc)
                self.coalescer.retry_later(group, now, wait)

    def _fetch(self, cw_type: str, hints: list[Hint], now: float) -> None:
        endpoint = ENDPOINTS[cw_type]
        busy = self.store.writes_in_flight(endpoint.record_types, [h.cw_id for h in hints])
        waiting = [h for h in hints if h.cw_id in busy]
        overdue = set(self.coalescer.wait_for_write(waiting, now))
        ready = [h for h in hints if h.cw_id not in busy or h in overdue]
        if len(waiting) > len(overdue):
            CALLBACK_HINTS.labels(outcome="waited_for_write").inc(len(waiting) - len(overdue))
        if not ready:
            return
        results = fetch_hinted(self.pipeline, self.store, cw_type, [h.cw_id for h in ready])
        self.coalescer.done(ready)
        CALLBACK_HINTS.labels(outcome="fetched").inc(len(ready))
        emitted = ", ".join(f"{r.emitted} {r.record_type}" for r in results if r.emitted)
        log.info("callbacks: %d %s records fetched, %s", len(ready), cw_type, f"emitted {emitted}" if emitted
                 else "nothing changed")

    def commit(self, consumer: Consumer) -> None:
        assigned = {tp.partition for tp in consumer.assignment()}
        positions = commit_positions({p: o for p, o in self.consumed.items() if p in assigned},
                                     self.coalescer.uncommitted())
        moved = {p: o for p, o in positions.items() if self.committed.get(p) != o}
        if moved:
            consumer.commit(offsets=[TopicPartition(CW_CALLBACKS.name, p, o) for p, o in moved.items()],
                            asynchronous=False)
            self.committed.update(moved)

    def run(self, consumer: Consumer, producer, stop: threading.Event) -> None:
        self.running = True
        try:
            while not stop.is_set():
                due = self.coalescer.next_due()
                wait = 0.2 if due is None else min(max(due - self.clock(), 0.01), 0.2)
                self.take_in(consumer.consume(500, wait), producer)
                if self.coalescer.due(self.clock()):
                    self.fetch_due()
                self.commit(consumer)
        finally:
            self.running = False


def run_callbacks(settings: Settings, pipeline: Pipeline, store: CallbackStore, codec: Codec, producer,
                  stop: threading.Event) -> None:
    """Consumes callbacks until `stop`; a broken consumer is rebuilt after a pause, resuming from
    its committed offsets (the hints not fetched come again)."""
    failures = 0
    while not stop.is_set():
        consumer = make_consumer(settings.kafka_bootstrap, GROUP, [CW_CALLBACKS.name], settings.session_timeout_ms,
                                 **LOW_LATENCY)
        worker = CallbackConsumer(pipeline, store, codec, Coalescer(settings.callback_window_seconds))
        try:
            worker.run(consumer, producer, stop)
            failures = 0
        except Exception as exc:
            failures += 1
            wait = min(PAUSE_FIRST * 2 ** (failures - 1), PAUSE_MAX)
            log.error("callbacks consumer failed, starting again in %.1fs: %s", wait, exc, exc_info=True)
            stop.wait(wait)
        finally:
            consumer.close()
