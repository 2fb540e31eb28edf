"""Consumer groups for tests that share the session's broker with every other test."""
from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition


def start_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commits `group` at the current end of each topic, so a service under test
    sees only what its test produces next, not the whole session's backlog."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    offsets = []
    for topic in topics:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            offsets.append(TopicPartition(topic, partition, high))
    consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()
