"""Wiring of the matcher: xero.payments.v1 in, payments applied in ConnectWise,
exceptions out; and the open-balance check after each payment cycle.

At start-up, before consuming, every application a crash left in flight is
settled from ConnectWise. The consumer commits offsets only after a batch's
effects are in ConnectWise and its outcomes in Postgres; when ConnectWise or
Postgres is out of reach the consumer is rebuilt after a backoff and the batch
comes again (the ledger makes that harmless).
"""
from __future__ import annotations

import hashlib
import logging
import threading

from confluent_kafka import Consumer

from ..common.codec import Codec
from ..common.database import Database
from ..common.db import migrate
from ..common.exchanges import ExchangeRecorder
from ..common.kafka import LOW_LATENCY, consume_batches, make_consumer, make_producer
from ..common.settings import Settings
from ..common.topics import XERO_PAYMENTS
from ..integrations.connectwise.client import CwClient
from .balance_check import BalanceCheck
from .connectwise import CwGateway
from .customers import ContactCheck
from .engine import Matcher
from .ledger import PostgresLedger
from .service import SERVICE, MatcherService

log = logging.getLogger(__name__)
MAX_BATCH = 500


def group_of(settings: Settings) -> str:
    """One consumer group per ledger: the matcher's offsets belong with the Postgres database
    that holds its applications, so two stacks sharing a broker never share a group."""
    return "connectzero-matcher-" + hashlib.sha256(settings.postgres_url.encode()).hexdigest()[:12]


def build(settings: Settings, codec: Codec, producer, db: Database) -> tuple[MatcherService, CwClient]:
    client = CwClient.from_settings(settings, ExchangeRecorder("connectwise", SERVICE, codec, producer))
    customers = ContactCheck(db)
    matcher = Matcher(PostgresLedger(db), CwGateway(client), customers)
    return MatcherService(matcher, codec, producer, before_batch=customers.refresh), client


def matcher_consumer(settings: Settings, group: str) -> Consumer:
    # A batch waits on ConnectWise inside the handler (retries, Retry-After): the group must not drop it for that.
    return make_consumer(settings.kafka_bootstrap, group, [XERO_PAYMENTS.name], settings.session_timeout_ms,
                         **LOW_LATENCY, **{"max.poll.interval.ms": 30 * 60 * 1000})


def consume(settings: Settings, service: MatcherService, producer, stop: threading.Event) -> None:
    group = group_of(settings)
    failures = 0
    while not stop.is_set():
        consumer = matcher_consumer(settings, group)
        try:
            settled = service.matcher.recover()
            if settled:
                log.info("settled %d applications left in flight", settled)
            consume_batches(consumer, service.handle, producer, SERVICE, stop.is_set, max_batch=MAX_BATCH,
                            poll_timeout=0.05)
            failures = 0
        except Exception as exc:  # ConnectWise or Postgres out of reach: nothing was committed
            failures += 1
            pause = min(0.5 * 2 ** failures, 30.0)
            log.error("matcher consumer stopped (%s); starting again in %.1fs", exc, pause)
            stop.wait(pause)
        finally:
            try:
                consumer.close()
            except Exception:  # a broken consumer is being replaced anyway
                pass


def work(settings: Settings, stop: threading.Event) -> None:
    migrate(settings.postgres_url)
    codec = Codec.from_directory()
    producer = make_producer(settings.kafka_bootstrap)
    db = Database(settings.postgres_url)
    service, client = build(settings, codec, producer, db)
    check_client = CwClient.from_settings(settings, ExchangeRecorder("connectwise", SERVICE, codec, producer))
    checker = threading.Thread(target=BalanceCheck(db, check_client, codec, producer).run,
                               args=(stop,), name="balance-check", daemon=True)
    checker.start()
    try:
        consume(settings, service, producer, stop)
    finally:
        stop.set()
        checker.join(10)
        db.close()
        client.close()
        check_client.close()
        producer.flush(10)
