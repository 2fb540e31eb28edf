"""Wiring of xero_status: the consumer of verified Xero webhook events
(`xero.webhooks.v1`), with its Xero client, Postgres pool and producer."""

from __future__ import annotations

import logging
import threading


from ..common.api_usage import ApiUsage
from ..common.codec import Codec
from ..common.database import Database
from ..common.db import migrate
from ..common.exchanges import ExchangeRecorder
from ..common.hint_consumer import HintConsumer, run_hint_consumer
from ..common.hint_window import HintWindow
from ..common.kafka import LOW_LATENCY, make_consumer, make_producer
from ..common.settings import Settings
from ..common.topics import XERO_WEBHOOKS
from ..integrations.xero.client import XeroClient
from ..integrations.xero.factory import xero_client
from .states import Publisher, StateWork, group_of, read_hint
from .store import StateStore

log = logging.getLogger(__name__)
GROUP = "xero-status"
WINDOW_SECONDS = 0.5  # Xero sends events in batches already; this gathers a batch's stragglers


def state_consumer(
    client: XeroClient, store: StateStore, publisher: Publisher, codec: Codec, window: HintWindow
) -> HintConsumer:
    return HintConsumer(
        "xero_status", XERO_WEBHOOKS, codec, read_hint, group_of, StateWork(client, store, publisher), window
    )


def work(settings: Settings, stop: threading.Event) -> None:
    migrate(settings.postgres_url)
    if not settings.xero_url:
        log.info("no Xero configured: nothing to follow")
        stop.wait()
        return
    codec = Codec.from_directory()
    producer = make_producer(settings.kafka_bootstrap)
    db = Database(settings.postgres_url)
    client = xero_client(settings, ExchangeRecorder("xero", "xero_status", codec, producer), ApiUsage(db).count_call)
    store, publisher = StateStore(db), Publisher(producer, codec)
    try:
        run_hint_consumer(
            "xero_status",
            lambda: make_consumer(
                settings.kafka_bootstrap, GROUP, [XERO_WEBHOOKS.name], settings.session_timeout_ms, **LOW_LATENCY
            ),
            lambda: state_consumer(client, store, publisher, codec, HintWindow(WINDOW_SECONDS)),
            producer,
            stop,
        )
    finally:
        producer.flush(10)
        client.close()
        db.close()
