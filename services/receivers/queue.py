"""Hands what the receivers took in to Kafka, and answers only once the broker has it:
a 200 to ConnectWise or Xero means the hint is queued (Xero retries anything else;
a ConnectWise callback that is lost is found by the next cycle)."""

from __future__ import annotations

import threading

from confluent_kafka import Producer

from ..common.codec import Codec
from ..common.kafka import make_producer
from ..common.topics import Topic


class QueueUnavailable(RuntimeError):
    """The broker did not take the hints in time: the caller answers 503."""


class HintQueue:
    def __init__(self, bootstrap: str, codec: Codec, timeout: float = 3.0):
        # The timeout leaves room inside Xero's 5 seconds for everything else.
        self.bootstrap, self.codec, self.timeout = bootstrap, codec, timeout
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def put(self, topic: Topic, items: list[tuple[str, dict]]) -> None:
        """items: (key, record) in `topic`'s schema; returns when every one is acknowledged."""
        if not items:
            return
        errors: list = []
        with self._lock:  # one flush at a time: a flush waits for everything produced before it
            if self._producer is None:
                self._producer = make_producer(self.bootstrap, **{"linger.ms": 0})
            for key, record in items:
                self._producer.produce(
                    topic.name,
                    key=key.encode(),
                    value=self.codec.encode(topic.schema, record),
                    on_delivery=lambda err, _msg: errors.append(err) if err else None,
                )
            remaining = self._producer.flush(self.timeout)
        if remaining or errors:
            raise QueueUnavailable(f"{topic.name}: {errors[0] if errors else 'broker did not acknowledge in time'}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
