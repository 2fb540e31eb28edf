"""Consumer lag per group and topic, read from the broker: the newest offset of each
partition less the offset the group committed there. Every service's consumer group
is seen from here, Faust's and confluent-kafka's alike, without asking the services."""

from __future__ import annotations

from collections import defaultdict

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from ..common.kafka import client_config

TIMEOUT = 5.0


def make_admin(bootstrap: str) -> AdminClient:
    return AdminClient(client_config(bootstrap, **{"socket.timeout.ms": 3000}))


def consumer_lag(admin: AdminClient) -> dict[tuple[str, str], int]:
    """(group, topic) -> messages not yet consumed, over the partitions the group has committed on."""
    groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=TIMEOUT).result().valid]
    committed: dict[tuple[str, str, int], int] = {}
    for group in groups:
        future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT)
        for tp in future[group].result().topic_partitions or []:
            if tp.offset >= 0 and not tp.topic.endswith(".dlq"):
                committed[(group, tp.topic, tp.partition)] = tp.offset
    if not committed:
        return {}
    partitions = {(topic, partition) for _group, topic, partition in committed}
    futures = admin.list_offsets(
        {TopicPartition(t, p): OffsetSpec.latest() for t, p in partitions}, request_timeout=TIMEOUT
    )
    latest = {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
    lag: dict[tuple[str, str], int] = defaultdict(int)
    for (group, topic, partition), offset in committed.items():
        lag[(group, topic)] += max(0, latest.get((topic, partition), offset) - offset)
    return dict(lag)
