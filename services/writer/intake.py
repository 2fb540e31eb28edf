"""The writer's consumer loop: xero.writes.v1 into one lane per organisation
(`lanes.py`), offsets committed as far as every message before them is done
(`offsets.py`), after the results and exceptions they produced are flushed.

Why not `kafka.consume_batches`, which commits a whole batch when its handler
returns: that waits for the slowest organisation in the batch, so one waiting
out its day limit would hold up the others. Here it holds up only its own lane
(and the commit point of its partition, which costs a harmless redelivery after
a crash). Too much in flight pauses consumption until the lanes catch up.
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


def consume_in_lanes(
    consumer: Consumer,
    producer: Producer,
    service: str,
    should_stop: Callable[[], bool],
    decode: Decode,
    work: Work,
    *,
    max_batch: int,
    max_in_flight: int,
    poll_timeout: float = 0.05,
) -> None:
    """Consumes until `should_stop`; `decode` turns a message into (message, request) or raises
    for a poison message (dead-lettered at once); `work(organisation, requests)` writes."""
    tracker = OffsetTracker()
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
    paused, last_commit = False, time.monotonic()
    try:
        while not should_stop():
            if lanes.fatal is not None:
                raise lanes.fatal
            for msg in consumer.consume(num_messages=max_batch, timeout=poll_timeout):
                if is_consume_error(msg):
                    continue
                with lock:
                    tracker.started(*_position(msg))
                try:
                    item = decode(msg)
                except Exception as exc:  # cannot be a write request: parked at once
                    done([msg], [(msg, exc)])
                    continue
                lanes.put(item[1].organisation_id, item)
            with lock:
                in_flight = tracker.in_flight
            if not paused and in_flight > max_in_flight:
                consumer.pause(consumer.assignment())
                paused = True
            elif paused and in_flight < max_in_flight // 2:
                consumer.resume(consumer.assignment())
                paused = False
            if time.monotonic() - last_commit >= COMMIT_EVERY:
                commit()
                last_commit = time.monotonic()
        commit()
    finally:
        lanes.close()
