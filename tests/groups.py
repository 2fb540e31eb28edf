"""Consumer groups for tests that share the session's broker with every other test."""
from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from tests.stackutil import QUICK_JOIN


def start_at_end(bootstrap: str, group: str, topics: list[str], settle: float = 0.5) -> None:
    """Commits `group` at the current end of each topic, so a service under test
    sees only what its test produces next, not the whole session's backlog.

    The embedded broker reports a partition's high watermark as the start of its
    last batch, so the rest of that batch (a burst another test produced) would
    still be read: the records past the watermark are read here until none come
    for `settle` seconds, and the group starts after the last of them."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "fetch.wait.max.ms": 50})
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            ends[(topic, partition)] = high
    consumer.assign([TopicPartition(t, p, o) for (t, p), o in ends.items()])
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle:
        for msg in consumer.consume(500, 0.1):
            if msg.error() is None:
                key = (msg.topic(), msg.partition())
                ends[key] = max(ends[key], msg.offset() + 1)
                quiet_since = time.monotonic()
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()], asynchronous=False)
    consumer.close()
