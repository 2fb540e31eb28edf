"""The writer's consumer loop: xero.writes.v1 into one lane per organisation
(`lanes.py`), offsets committed as far as every message before them is done
(`offsets.py`), after the results and exceptions they produced are flushed.

Why not `kafka.consume_batches`, which commits a whole batch when its handler
returns: that waits for the slowest organisation in the batch, so one waiting
out its day limit would hold up the others. Here it holds up only its own lane
(and the commit point of its partition, which costs a harmless redelivery after
a crash).

Nor does consumption ever pause for everyone: each organisation holds at most
`hold` requests (`CZ_WRITER_MAX_BATCH`). One that cannot write (its day limit
spent, a long Retry-After) leaves its later requests in Kafka, uncommitted,
while the other organisations' requests in the same partitions go on; once its
lane has room again the consumer seeks back to the oldest it left and takes
them in order. Reading a partition again costs Kafka reads, never a Xero call:
whatever was handled already is passed over by offset, without decoding.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from ..common.kafka import is_consume_error, send_to_dead_letter
from .lanes import Item, Lanes, Work
from .offsets import OffsetTracker

log = logging.getLogger(__name__)
COMMIT_EVERY = 0.2  # seconds between commits of what is done
Decode = Callable[[Message], Item]


def _position(msg: Message) -> tuple[tuple[str, int], int]:
    """((topic, partition), offset) of a consumed message, which always has them."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed message without its topic, partition or offset")
    return (topic, partition), offset


def _organisation(msg: Message) -> str:
    """The organisation a write request is for, from its key (the mapper keys each by its
    organisation): a message left in Kafka or delivered again is never decoded."""
    key = msg.key()
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key or "")


def consume_in_lanes(
    consumer: Consumer,
    producer: Producer,
    service: str,
    should_stop: Callable[[], bool],
    decode: Decode,
    work: Work,
    *,
    max_batch: int,
    hold: int,
    poll_timeout: float = 0.05,
) -> None:
    """Consumes until `should_stop`; `decode` turns a message into (message, request) or raises
    for a poison message (dead-lettered at once); `work(organisation, requests)` writes. Each
    organisation holds at most `hold` messages; the rest wait in Kafka (`offsets.py`)."""
    tracker = OffsetTracker(hold)
    lock = threading.Lock()  # the lanes report done from their threads

    def done(msgs: list[Message], poison: list[tuple[Message, BaseException]]) -> None:
        for msg, error in poison:
            send_to_dead_letter(producer, msg, error, service)
        with lock:
            for msg in msgs:
                tracker.finished(*_position(msg))

    def commit() -> None:
        with lock:
            points = tracker.committable()
        if not points:
            return
        producer.flush(30)  # what the done messages produced is durable before their offsets move on
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in points.items()], asynchronous=False)
        with lock:
            tracker.committed(points)

    lanes = Lanes(work, done, max_batch)
    last_commit = time.monotonic()
    try:
        while not should_stop():
            if lanes.fatal is not None:
                raise lanes.fatal
            for msg in consumer.consume(num_messages=max_batch, timeout=poll_timeout):
                if is_consume_error(msg):
                    continue
                with lock:
                    take = tracker.arrived(*_position(msg), _organisation(msg))
                if not take:
                    continue
                try:
                    item = decode(msg)
                except Exception as exc:  # cannot be a write request: parked at once
                    done([msg], [(msg, exc)])
                    continue
                lanes.put(item[1].organisation_id, item)
            owned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            with lock:
                # A revoked partition's new owner reads it from the commit point: never seek or commit it here.
                tracker.forget([p for p in tracker.tracked() if p not in owned])
                rewinds = tracker.rewinds()
            for (topic, partition), offset in rewinds.items():
                log.info(
                    "reading %s[%d] again from offset %d: an organisation has room again", topic, partition, offset
                )
                consumer.seek(TopicPartition(topic, partition, offset))
            if time.monotonic() - last_commit >= COMMIT_EVERY:
                commit()
                last_commit = time.monotonic()
        commit()
    finally:
        lanes.close()
