"""Wiring of the writer: xero.writes.v1 in, Xero writes out, results and exceptions published.

Why a confluent-kafka batch consumer (`kafka.consume_batches`) and not a Faust
agent: the writer's unit of work is a batch (up to 50 elements per Xero call,
several organisations at once), and `consume_batches` (under the one error policy,
`common/consumer_policy.run_consumer`) hands over whatever has
arrived and commits offsets only after the handler returns, which here is after
the ledger transaction is committed and the results are flushed to Kafka. A
crash anywhere before that redelivers the batch, and the ledger (plus a Xero
look-up of anything left pending) makes the redelivery harmless.

Organisations in one consumed batch are written side by side, each in its own
thread; the next batch starts when all are done. So an organisation held up for
long (its day limit spent, a long Retry-After) holds up the others too: a known
limit of this design, which keeps offset handling simple.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from confluent_kafka import Consumer

from ..common.codec import Codec, FramingError
from ..common.database import Database
from ..common.exchanges import ExchangeRecorder
from ..common.consumer_policy import run_consumer
from ..common.kafka import LOW_LATENCY, make_consumer, make_producer
from ..common.record_kinds import MONEY_KINDS
from ..common.secrets import SecretBox, secret_key
from ..common.settings import Settings
from ..common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS, XERO_WRITES
from ..integrations.xero.auth import PostgresTokenStore, TokenManager
from ..integrations.xero.client import PacerGate, XeroClient
from . import money_recovery, recovery
from .batching import BadWriteRequest, WriteRequest, by_organisation, coalesce
from .ledger import Ledger
from ..integrations.xero.pacing import Limits, Pacer
from .writer import OrganisationWriter

log = logging.getLogger(__name__)


class WriterService:
    """Turns consumed messages into writes, organisations side by side."""

    def __init__(self, codec: Codec, producer, client: XeroClient, ledger: Ledger, max_parallel: int = 8):
        self.codec, self.producer, self.client, self.ledger = codec, producer, client, ledger
        self.writer = OrganisationWriter(client, ledger, self.publish)
        # One thread per organisation in a batch: each organisation has its own Xero
        # budget, so a slow or rate-limited one must not hold the others back.
        self.pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="writer-org")
        self._seeded: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, kind: str, record: dict) -> None:
        key = f"{record['record_type']}:{record['cw_id'] if kind == 'result' else record['record_id']}".encode()
        if kind == "result":
            self.producer.produce(XERO_WRITE_RESULTS.name, key=key, value=self.codec.encode("xero_write_result", record))
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

    def handle(self, msgs) -> list:
        poison, decoded_msgs, decoded = [], [], []
        for seq, msg in enumerate(msgs):
            try:
                name, record = self.codec.decode(msg.value())
                if name != "xero_write_request":
                    raise FramingError(f"expected a xero_write_request, got {name}")
                decoded.append(WriteRequest.from_record(record, seq))
                decoded_msgs.append(msg)
            except (FramingError, BadWriteRequest) as exc:
                poison.append((msg, exc))
        kept, _superseded = coalesce(decoded)
        groups = by_organisation(kept)
        for org_id in groups:
            self._seed_usage(org_id)
        futures = {org_id: self.pool.submit(self.writer.write, org_id, reqs) for org_id, reqs in groups.items()}
        for org_id, future in futures.items():
            try:
                future.result()
            except psycopg.OperationalError:
                # Postgres is unreachable: nothing may be committed; the restarted service redelivers.
                raise
            except Exception as exc:
                # Anything else would fail the same way on every redelivery: park this
                # organisation's messages in the dead-letter topic instead of looping.
                log.exception("writing for %s failed; its messages go to the dead-letter topic", org_id)
                poison += [(msg, exc) for msg, req in zip(decoded_msgs, decoded) if req.organisation_id == org_id]
        self.producer.flush(30)
        return poison

    def _seed_usage(self, org_id: str) -> None:
        with self._lock:
            if org_id in self._seeded:
                return
            self._seeded.add(org_id)
        self.client.gate.seed_day_usage(org_id, self.ledger.calls_today(org_id))

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _by_organisation(entries) -> dict[str, list]:
    groups: dict[str, list] = {}
    for e in entries:
        groups.setdefault(e.organisation_id, []).append(e)
    return groups


def build(settings: Settings, codec: Codec, producer) -> WriterService:
    recorder = ExchangeRecorder("xero", "writer", codec, producer)
    http = httpx.Client(timeout=30, event_hooks=recorder.hooks())
    # One connection per organisation written side by side, and one to spare.
    ledger = Ledger(Database(settings.postgres_url, max_size=9))
    tokens = TokenManager(PostgresTokenStore(settings.postgres_url, SecretBox(secret_key(settings))), http,
                          settings.xero_token_url, settings.xero_client_id, settings.xero_client_secret)
    limits = Limits(settings.xero_limit_concurrent, settings.xero_limit_per_minute, settings.xero_limit_per_day,
                    settings.xero_limit_app_per_minute)
    client = XeroClient(settings.xero_url, tokens, PacerGate(Pacer(limits)), recorder, http,
                        on_call=ledger.count_call)
    return WriterService(codec, producer, client, ledger)


def make_writer_consumer(settings: Settings) -> Consumer:
    return make_consumer(
        settings.kafka_bootstrap, settings.writer_group, [XERO_WRITES.name], settings.session_timeout_ms,
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
        run_consumer("writer", settings.kafka_bootstrap, lambda: make_writer_consumer(settings), service.handle, stop,
                     max_batch=settings.writer_max_batch, poll_timeout=0.05)
    finally:
        service.close()
        producer.flush(10)
