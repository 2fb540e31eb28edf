"""The audit consumer: every topic of the product into the audit store.

Batches of up to 500 messages become one INSERT; offsets are committed only
after it (consume_batches), so a crash replays the batch and the store's
deterministic entry ids collapse the replay. A message that cannot be decoded
goes to its topic's dead-letter topic and the consumer goes on.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Message
from prometheus_client import Counter, Gauge, Histogram

from ..common.codec import Codec
from ..common.consumer_policy import Unavailable, run_consumer
from ..common.kafka import Poison, make_consumer, message_context
from ..common.metrics import MESSAGES, POISON
from ..common.settings import Settings
from ..common.topics import ALL_TOPICS
from .entries import entry_from_message
from .store import AuditStore

log = logging.getLogger(__name__)
SERVICE = "audit"

ENTRIES = Counter("cz_audit_entries_total", "Entries written to the audit log", ["kind"])
INSERT_SECONDS = Histogram("cz_audit_insert_seconds", "Time to insert one batch into the audit store")
LAST_INSERT = Gauge("cz_audit_last_insert_timestamp_seconds", "When the audit log last stored a batch")


def audited_topics() -> list[str]:
    return [topic.name for topic in ALL_TOPICS]


class AuditConsumer:
    def __init__(
        self,
        settings: Settings,
        store: AuditStore,
        codec: Codec,
        group: str | None = None,
        topics: list[str] | None = None,
        max_batch: int = 500,
    ):
        self.settings, self.store, self.codec = settings, store, codec
        self.group, self.topics, self.max_batch = group or settings.audit_group, topics or audited_topics(), max_batch
        self.running = False

    def handle(self, msgs: list[Message]) -> Poison:
        """Stores a batch; returns the poison messages. Raises if the store is down,
        so nothing is committed and the batch comes again."""
        rows, sources = [], []
        poison: Poison = []
        for msg in msgs:
            try:
                schema, record = self.codec.decode(msg.value())
                rows.append(
                    entry_from_message(msg.topic() or "", schema, record, msg.value() or b"", msg.timestamp()[1])
                )
                sources.append(msg)
            except Exception as exc:  # anything undecodable is poison, whatever the cause
                poison.append((msg, exc))
        poison += self._insert(rows, sources)
        for msg, _ in poison:
            POISON.labels(service=SERVICE, topic=msg.topic()).inc()
        for msg in msgs:
            MESSAGES.labels(service=SERVICE, topic=msg.topic()).inc()
        return poison

    def _insert(self, rows: list[dict], sources: list[Message]) -> Poison:
        if not rows:
            return []
        started = time.perf_counter()
        try:
            self.store.insert(rows)
        except Exception as exc:
            problem = self.store.ping()
            if problem is not None:  # the store is down: retry the batch later, lose nothing
                raise Unavailable(f"audit store: {problem}") from exc
            # The store is up, so a row itself is bad: find it, park it, keep the rest.
            bad: Poison = []
            for row, msg in zip(rows, sources, strict=True):
                try:
                    self.store.insert([row])
                except Exception as exc:
                    bad.append((msg, exc))
            return bad
        finally:
            INSERT_SECONDS.observe(time.perf_counter() - started)
        for row in rows:
            ENTRIES.labels(kind=row["kind"]).inc()
        LAST_INSERT.set_to_current_time()
        return []

    def run(self, stop: threading.Event) -> None:
        """Consumes until `stop` is set, under the one error policy (`common/consumer_policy.py`)."""

        def subscribed():
            return make_consumer(
                self.settings.kafka_bootstrap, self.group, self.topics, self.settings.session_timeout_ms
            )

        run_consumer(
            SERVICE,
            self.settings.kafka_bootstrap,
            subscribed,
            self._logged_handle,
            stop,
            max_batch=self.max_batch,
            on_running=lambda running: setattr(self, "running", running),
        )

    def _logged_handle(self, msgs: list[Message]) -> Poison:
        poison = self.handle(msgs)
        for msg, error in poison:
            log.warning("undecodable message: %s", error, extra=message_context(msg))
        return poison
