"""Wiring of ingest: the scheduler loop, the commands consumer and the real-time path
(callbacks; realtime.py), sharing one producer."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from confluent_kafka import Consumer

from ..common.codec import Codec
from ..common.api_usage import ApiUsage
from ..integrations.connectwise.client import CwClient
from ..integrations.xero.factory import xero_client
from ..common.database import Database
from ..common.db import migrate
from ..common.exchanges import ExchangeRecorder
from ..common.consumer_policy import run_consumer
from ..common.kafka import LOW_LATENCY, make_consumer, make_producer
from ..common.settings import Settings
from ..common.topics import SYNC_COMMANDS
from . import realtime
from .commands import CommandHandler
from .cycle import Emitter, Pipeline
from .scheduler import DEFAULT_OVERLAP, Scheduler
from .store import Store
from .xero_payment_store import XeroPaymentStore
from .xero_payments import XeroPayments

log = logging.getLogger(__name__)
COMMANDS_GROUP = "ingest-commands"


def make_pipeline(settings: Settings, codec: Codec, producer, db: Database) -> Pipeline:
    # Each thread gets its own pipeline: its own HTTP client and cycle locks; the
    # connection pool and the producer are thread-safe and shared.
    recorder = ExchangeRecorder("connectwise", "ingest", codec, producer)
    return Pipeline(CwClient.from_settings(settings, recorder), Store(db), Emitter(producer, codec))


def make_xero_payments(settings: Settings, codec: Codec, producer, db: Database) -> XeroPayments | None:
    """The Xero payments poll, with its own poll locks (one per thread); None when no Xero
    is configured (then xero_payment commands are ignored, as before)."""
    if not settings.xero_url:
        return None
    client = xero_client(settings, ExchangeRecorder("xero", "ingest", codec, producer), ApiUsage(db).count_call)
    return XeroPayments(client, XeroPaymentStore(db), Emitter(producer, codec))


def commands_consumer(settings: Settings) -> Consumer:
    return make_consumer(
        settings.kafka_bootstrap, COMMANDS_GROUP, [SYNC_COMMANDS.name], settings.session_timeout_ms, **LOW_LATENCY
    )


def work(
    settings: Settings, stop: threading.Event, tick_seconds: float = 5.0, overlap: timedelta | None = None
) -> None:
    migrate(settings.postgres_url)
    codec = Codec.from_directory()
    producer = make_producer(settings.kafka_bootstrap)
    db = Database(settings.postgres_url)
    live = realtime.start(settings, codec, producer, db, stop, lambda: make_pipeline(settings, codec, producer, db))
    scheduler = Scheduler(
        make_pipeline(settings, codec, producer, db),
        tick_seconds=tick_seconds,
        xero_payments=make_xero_payments(settings, codec, producer, db),
        run=live.run_cycle,
        overlap=DEFAULT_OVERLAP if overlap is None else overlap,
    )
    handler = CommandHandler(
        make_pipeline(settings, codec, producer, db),
        codec,
        scheduler.wake,
        xero_payments=make_xero_payments(settings, codec, producer, db),
    )

    def consume() -> None:
        try:
            # consume() waits for a full batch or the timeout, so a short timeout keeps a
            # lone force-sync command from waiting half a second for company.
            run_consumer(
                "ingest",
                settings.kafka_bootstrap,
                lambda: commands_consumer(settings),
                handler.handle,
                stop,
                max_batch=50,
                poll_timeout=0.05,
            )
        except Exception:
            log.exception("commands consumer stopped")
            stop.set()

    thread = threading.Thread(target=consume, name="ingest-commands", daemon=True)
    thread.start()
    try:
        scheduler.run(stop)
    finally:
        stop.set()
        thread.join(10)
        live.join(10)
        producer.flush(10)
        db.close()
