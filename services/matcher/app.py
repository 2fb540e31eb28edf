"""Wiring of the matcher: xero.payments.v1 in, payments applied in ConnectWise,
exceptions out; and the open-balance check after each payment cycle.

At start-up, before consuming, every application a crash left in flight is
settled from ConnectWise. The consumer runs under the one error policy
(`common/consumer_policy.py`) and commits offsets only after a batch's effects
are in ConnectWise and its outcomes in Postgres; when ConnectWise or Postgres is
out of reach the batch comes again (the ledger makes that harmless).
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
from ..common.consumer_policy import run_consumer
from ..common.kafka import LOW_LATENCY, make_consumer, make_producer
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
    """The setting, or one consumer group per ledger: the matcher's offsets belong with the
    Postgres database that holds its applications, so two stacks sharing a broker never share a group."""
    return (
        settings.matcher_group
        or "connectzero-matcher-" + hashlib.sha256(settings.postgres_url.encode()).hexdigest()[:12]
    )


def build(settings: Settings, codec: Codec, producer, db: Database) -> tuple[MatcherService, CwClient]:
    client = CwClient.from_settings(settings, ExchangeRecorder("connectwise", SERVICE, codec, producer))
    customers = ContactCheck(db)
    matcher = Matcher(PostgresLedger(db), CwGateway(client), customers)
    return MatcherService(matcher, codec, producer, before_batch=customers.refresh), client


def matcher_consumer(settings: Settings, group: str) -> Consumer:
    # A batch waits on ConnectWise inside the handler (retries, Retry-After): the group must not drop it for that.
    return make_consumer(
        settings.kafka_bootstrap,
        group,
        [XERO_PAYMENTS.name],
        settings.session_timeout_ms,
        **LOW_LATENCY,
        **{"max.poll.interval.ms": 30 * 60 * 1000},
    )


def consume(settings: Settings, service: MatcherService, stop: threading.Event) -> None:
    """Settles what a crash left in flight, then consumes under the one error policy."""
    try:
        settled = service.matcher.recover()
        if settled:
            log.info("settled %d applications left in flight", settled)
    except Exception as exc:  # ConnectWise away: each batch settles its own payments before touching them
        log.warning(
            "applications left in flight not settled at start (%s); each is settled when its payment comes", exc
        )
    run_consumer(
        SERVICE,
        settings.kafka_bootstrap,
        lambda: matcher_consumer(settings, group_of(settings)),
        service.handle,
        stop,
        max_batch=MAX_BATCH,
        poll_timeout=0.05,
    )


def work(settings: Settings, stop: threading.Event) -> None:
    migrate(settings.postgres_url)
    codec = Codec.from_directory()
    producer = make_producer(settings.kafka_bootstrap)
    db = Database(settings.postgres_url)
    service, client = build(settings, codec, producer, db)
    check_client = CwClient.from_settings(settings, ExchangeRecorder("connectwise", SERVICE, codec, producer))
    checker = threading.Thread(
        target=BalanceCheck(db, check_client, codec, producer).run, args=(stop,), name="balance-check", daemon=True
    )
    checker.start()
    try:
        consume(settings, service, stop)
    finally:
        stop.set()
        checker.join(10)
        db.close()
        client.close()
        check_client.close()
        producer.flush(10)
