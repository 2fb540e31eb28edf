"""The consumer's batch handling over real chdb: poison split off, and a store
that is down raising so the batch is not committed (it comes again)."""
import pytest
from confluent_kafka import Message

from services.audit.consumer import AuditConsumer
from services.audit.store import ChdbStore
from services.common.settings import Settings

from .factories import exchange, sync_command

pytestmark = pytest.mark.integration


def message(topic, value, offset):
    return Message(topic=topic, partition=0, offset=offset, key=b"k", value=value, timestamp=(1, 1764000000000))


def test_poison_is_returned_and_the_rest_stored(store, codec):
    consumer = AuditConsumer(Settings(), store, codec)
    good = exchange()
    msgs = [message("api.exchanges.v1", codec.encode("api_exchange", good), 1),
            message("api.exchanges.v1", b"\x00\x00\x00\x00\x01junk", 2),
            message("sync.commands.v1", codec.encode("sync_command", sync_command()), 3)]
    poison = consumer.handle(msgs)
    assert [(m.offset(), "unknown schema id 1" in str(e)) for m, e in poison] == [(2, True)]
    assert store.get(good["exchange_id"]) is not None and store.count() == 2


def test_a_store_that_is_down_raises_so_the_batch_is_not_committed(tmp_path, codec):
    store = ChdbStore(tmp_path / "chdb")
    store.open(90)
    store.close()  # the store is gone: inserts and pings fail
    consumer = AuditConsumer(Settings(), store, codec)
    with pytest.raises(Exception):
        consumer.handle([message("api.exchanges.v1", codec.encode("api_exchange", exchange()), 1)])
