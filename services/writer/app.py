"""Wiring of the writer: xero.writes.v1 in, Xero writes out, results and exceptions published.

Messages go into one lane per organisation (`intake.py`, `lanes.py`): each lane
writes its organisation's requests in calls of up to 50, and offsets are committed
as far as every message before them is done, after the ledger transaction is
committed and the results are flushed to Kafka. So an organisation waiting out its
day limit or a long Retry-After holds up only itself: it holds at most
`CZ_WRITER_MAX_BATCH` requests in memory, and the rest wait in Kafka, read again
when it has room, while the others keep writing. A crash anywhere redelivers
what was not committed, and the ledger (plus a Xero look-up of anything left
pending) makes the redelivery harmless. Two writer processes (scale-out) never
write for the same organisation at once: a lane holds the organisation's advisory
lock while it writes.
"""

from __future__ import annotations

import itertools
import logging
import threading
import zlib

from confluent_kafka import Consumer

from ..common import locks
from ..common.api_usage import ApiUsage
from ..common.codec import Codec, FramingError
from ..common.database import Database
from ..common.exchanges import ExchangeRecorder
from ..common.consumer_policy import run_consumer
from ..common.kafka import LOW_LATENCY, make_consumer, make_producer
from ..common.record_kinds import MONEY_KINDS
from ..common.settings import Settings
from ..common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS, XERO_WRITES
from ..integrations.xero.client import XeroClient
from ..integrations.xero.factory import xero_client
from . import money_recovery, recovery
from .batching import LANE_TAKE, WriteRequest, coalesce
from .intake import consume_in_lanes
from .ledger import Ledger
from .writer import OrganisationWriter

log = logging.getLogger(__name__)


class OrganisationBusy(Exception):
    """Another writer process is writing for this organisation right now (scale-out)."""

    transient = True  # waited out under the error policy, like an outage


class WriterService:
    """Turns consumed messages into writes, one lane per organisation (`intake.py`)."""

    def __init__(self, codec: Codec, producer, client: XeroClient, ledger: Ledger, locks_db: Database):
        self.codec, self.producer, self.client, self.ledger = codec, producer, client, ledger
        self.writer = OrganisationWriter(client, ledger, self.publish)
        self.locks_db = locks_db
        self._arrivals = itertools.count()  # arrival order: the tie-breaker when coalescing
        self._seeded: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, kind: str, record: dict) -> None:
        key = f"{record['record_type']}:{record['cw_id'] if kind == 'result' else record['record_id']}".encode()
        if kind == "result":
            self.producer.produce(
                XERO_WRITE_RESULTS.name, key=key, value=self.codec.encode("xero_write_result", record)
            )
        else:
            self.producer.produce(SYNC_EXCEPTIONS.name, key=key, value=self.codec.encode("sync_exception", record))
        self.producer.poll(0)

    def recover(self) -> int:
        """Settles every pending write before consuming (a crash left them)."""
        settled = 0
        for org_id, entries in _by_organisation(self.ledger.pending()).items():
            found = self.ledger.organisation(org_id)
            if found is None:
                continue
            money = [e for e in entries if e.record_type in MONEY_KINDS]
            documents = [e for e in entries if e.record_type not in MONEY_KINDS]
            try:
                if documents:
                    settled += recovery.settle(self.client, self.ledger, found[0], documents)
                if money:
                    settled += money_recovery.settle(self.client, self.ledger, found[0], money)
            except Exception as exc:  # settled again inline before the record's next write
                log.warning("could not settle pending writes of %s yet: %s", org_id, exc)
        return settled

    def decode(self, msg) -> tuple:
        """(message, write request); a message that is not one raises, naming why (poison)."""
        name, record = self.codec.decode(msg.value())
        if name != "xero_write_request":
            raise FramingError(f"expected a xero_write_request, got {name}")
        return msg, WriteRequest.from_record(record, next(self._arrivals))

    def work(self, organisation_id: str, requests: list[WriteRequest]) -> None:
        """Writes one organisation's requests, newest per record, holding the organisation's lock
        so that two writer processes never write for it at once (their ledger reads would race)."""
        self._seed_usage(organisation_id)
        kept, _superseded = coalesce(requests)
        with self.locks_db.session_lock(
            locks.WRITER_ORGANISATION, zlib.crc32(organisation_id.encode()) & 0x7FFFFFFF
        ) as held:
            if held is None:
                raise OrganisationBusy(f"another writer is writing for {organisation_id}")
            self.writer.write(organisation_id, kept)
        self.producer.poll(0)

    def _seed_usage(self, org_id: str) -> None:
        with self._lock:
            if org_id in self._seeded:
                return
            self._seeded.add(org_id)
        self.client.gate.seed_day_usage(org_id, ApiUsage(self.ledger.db).calls_today(org_id))

    def close(self) -> None:
        self.ledger.close()
        self.locks_db.close()


def _by_organisation(entries) -> dict[str, list]:
    groups: dict[str, list] = {}
    for e in entries:
        groups.setdefault(e.organisation_id, []).append(e)
    return groups


def build(settings: Settings, codec: Codec, producer) -> WriterService:
    # Lanes write side by side, one per organisation: enough connections for several at once.
    db = Database(settings.postgres_url, max_size=16)
    ledger = Ledger(db)
    usage = ApiUsage(db)
    client = xero_client(settings, ExchangeRecorder("xero", "writer", codec, producer), usage.count_call)
    # One connection per organisation's lock, at most: opened as lanes need them.
    return WriterService(
        codec, producer, client, ledger, Database(settings.postgres_url, max_size=64, name="writer-locks")
    )


def make_writer_consumer(settings: Settings) -> Consumer:
    return make_consumer(
        settings.kafka_bootstrap,
        settings.writer_group,
        [XERO_WRITES.name],
        settings.session_timeout_ms,
        on_assign=lambda _c, parts: log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in parts)),
        **LOW_LATENCY,  # measured: 252 ms -> 7 ms from produce to write for a force-sync
        # A batch waits out Xero's limits inside the handler (a minute, or a long Retry-After);
        # the group must not drop the writer for that.
        **{"max.poll.interval.ms": 30 * 60 * 1000},
    )


def run(settings: Settings, stop: threading.Event) -> None:
    codec = Codec.from_directory()
    producer = make_producer(settings.kafka_bootstrap)
    service = build(settings, codec, producer)
    try:
        settled = service.recover()
        log.info("writer ready: %d pending writes settled from Xero", settled)

        # A short poll: consume() waits the whole timeout unless max_batch messages arrive, and a
        # force-sync of one record should not wait for a batch that is not coming. A backfill
        # still fills whole batches, since its messages are already there.
        def lanes(consumer, producer_for_dead_letters, should_stop) -> None:
            consume_in_lanes(
                consumer,
                producer_for_dead_letters,
                "writer",
                should_stop,
                service.decode,
                service.work,
                max_batch=LANE_TAKE,
                hold=settings.writer_max_batch,
            )

        run_consumer("writer", settings.kafka_bootstrap, lambda: make_writer_consumer(settings), None, stop, loop=lanes)
    finally:
        service.close()
        producer.flush(10)
