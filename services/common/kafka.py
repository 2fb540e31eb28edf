"""confluent-kafka plumbing: topic creation, producers, and a consumer loop
that commits only after the handler's effect is durable and parks poison
messages in the topic's dead-letter topic instead of crashing or looping.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from .dead_letter import dead_letter_headers
from .topics import BY_NAME, topic_specs

log = logging.getLogger(__name__)
# librdkafka's own log lines go through Python logging (served by poll), so they come out as
# structured lines like every other, and a client nobody polls any more stays quiet.
client_log = logging.getLogger("kafka.client")


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """A client's configuration: its broker, and its log lines through Python logging."""
    return {"bootstrap.servers": bootstrap, "logger": client_log, **extra}


def ensure_topics(bootstrap: str, timeout: float = 30.0) -> list[str]:
    """Creates every declared topic that does not exist yet; returns those created."""
    admin = AdminClient(client_config(bootstrap))
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    wanted = [
        NewTopic(name, partitions, 1, config=config)
        for name, partitions, config in topic_specs()
        if name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=15).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def make_producer(bootstrap: str, **extra) -> Producer:
    # Idempotent producer: a retried send is never written twice.
    return Producer(
        client_config(bootstrap, **{"enable.idempotence": True, "linger.ms": 5, "compression.type": "none", **extra})
    )


# For consumers a person waits on (force-sync): a broker that answers a fetch only when the
# wait runs out (the embedded one) would otherwise hold each message up to half a second.
LOW_LATENCY = {"fetch.wait.max.ms": 20}


def make_consumer(
    bootstrap: str, group: str, topics: list[str], session_timeout_ms: int = 10000, on_assign=None, **extra
) -> Consumer:
    """A consumer that commits only when told to; `extra` adds or overrides librdkafka settings."""
    consumer = Consumer(
        client_config(
            bootstrap,
            **{
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": session_timeout_ms,
                "heartbeat.interval.ms": max(500, session_timeout_ms // 5),
                **extra,
            },
        )
    )
    if on_assign is None:
        consumer.subscribe(topics)
    else:
        consumer.subscribe(topics, on_assign=on_assign)
    return consumer


def message_context(msg: Message) -> dict:
    """What every log line about a message carries."""
    key = msg.key()
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
    }


def is_consume_error(msg: Message) -> bool:
    """True when `msg` is the consumer's report of an error rather than a message (logged,
    unless it only says a partition's end was reached)."""
    error = msg.error()
    if error is None:
        return False
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consume error: %s", error)
    return True


def send_to_dead_letter(producer: Producer, msg: Message, error: BaseException, service: str) -> None:
    origin = msg.topic() or ""
    topic = BY_NAME.get(origin)
    dlq = topic.dlq if topic else f"{origin}.dlq"
    producer.produce(
        dlq,
        key=msg.key(),
        value=msg.value(),
        headers=[*dead_letter_headers(error, origin, msg.partition(), msg.offset(), service)],
    )
    producer.flush(10)
    log.warning("parked poison message in %s: %s", dlq, error, extra=message_context(msg))


# The messages of a batch that could not be processed (poison), each with why.
Poison = list[tuple[Message, BaseException]]
BatchHandler = Callable[[list[Message]], Poison]


def consume_batches(
    consumer: Consumer,
    handle: BatchHandler,
    producer: Producer,
    service: str,
    should_stop: Callable[[], bool],
    max_batch: int = 500,
    poll_timeout: float = 0.5,
) -> None:
    """Polls batches and hands them to `handle`, which makes its effect durable
    and returns the messages it could not process (poison) with their error.
    Those go to the dead-letter topic; then offsets are committed.
    """
    while not should_stop():
        msgs = consumer.consume(num_messages=max_batch, timeout=poll_timeout)
        good = []
        for msg in msgs:
            if is_consume_error(msg):
                continue
            good.append(msg)
        if not good:
            continue
        for msg, error in handle(good):
            send_to_dead_letter(producer, msg, error, service)
        consumer.commit(asynchronous=False)
