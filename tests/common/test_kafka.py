"""Topic declaration, the consumer loop and the dead-letter path, against the real broker."""
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from services.common.kafka import consume_batches, ensure_topics, make_consumer, make_producer
from services.common.topics import ALL_TOPICS, SYNC_COMMANDS, all_topic_names, topic_specs
from tests.stackutil import QUICK_JOIN


def test_every_declared_topic_exists_with_its_partitions(kafka_bootstrap):
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    for name, partitions, _ in topic_specs():
        assert name in topics, name
        assert len(topics[name].partitions) == partitions, name
    assert ensure_topics(kafka_bootstrap) == []  # idempotent


def test_topic_names_follow_the_convention():
    for topic in ALL_TOPICS:
        source, _entity, version = topic.name.split(".")
        assert source in {"cw", "xero", "sync", "api", "config"} and version.startswith("v")
    assert len(set(all_topic_names())) == len(all_topic_names())


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 20) -> list:
    """Reads a topic from the beginning without a consumer group (no rebalance wait)."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    got, deadline = [], time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg)
    consumer.close()
    return got


def test_poison_message_goes_to_dead_letter_and_processing_continues(kafka_bootstrap, codec):
    run = uuid.uuid4().hex
    producer = make_producer(kafka_bootstrap)
    good = {"command_id": run, "action": "RUN_CYCLE", "record_type": "invoice", "record_id": None, "window_from": None,
            "window_to": None, "requested_by": "test", "requested_at": __import__("datetime").datetime.now(__import__("datetime").timezone.utc)}
    producer.produce(SYNC_COMMANDS.name, key=b"poison-" + run.encode(), value=b"\x07not avro")
    producer.produce(SYNC_COMMANDS.name, key=run.encode(), value=codec.encode("sync_command", good))
    producer.flush(10)

    handled, stop = [], threading.Event()

    def handle(msgs):
        bad = []
        for msg in msgs:
            try:
                _, record = codec.decode(msg.value())
                if record["command_id"] == run:
                    handled.append(record)
                    stop.set()
            except ValueError as exc:
                if msg.key().decode().endswith(run):
                    bad.append((msg, exc))
        return bad

    consumer = make_consumer(kafka_bootstrap, f"test-{run}", [SYNC_COMMANDS.name], session_timeout_ms=6000)
    thread = threading.Thread(target=consume_batches, args=(consumer, handle, producer, "test", stop.is_set))
    thread.start()
    thread.join(30)
    consumer.close()
    assert handled and handled[0]["command_id"] == run

    parked = [m for m in read_all(kafka_bootstrap, SYNC_COMMANDS.dlq, 50, timeout=8) if m.key() == b"poison-" + run.encode()]
    assert len(parked) == 1
    headers = dict(parked[0].headers())
    assert b"magic byte 7" in headers["dlq.error"]
    assert headers["dlq.origin.topic"] == SYNC_COMMANDS.name.encode()
    assert headers["dlq.service"] == b"test"
    assert parked[0].value() == b"\x07not avro"
