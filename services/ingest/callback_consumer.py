"""The consumer of `cw.callbacks.v1`: hints gathered in a window (common/hint_window.py,
common/hint_consumer.py), a record with a write in flight left to wait for it, the
others fetched through the normal path (callback_fetch.py)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ..common.codec import Codec
from ..common.hint_consumer import HintConsumer, run_hint_consumer
from ..common.hint_window import HintWindow
from ..common.kafka import LOW_LATENCY, make_consumer
from ..common.settings import Settings
from ..common.topics import CW_CALLBACKS
from .callback_fetch import ENDPOINTS, fetch_hinted
from .callback_store import CallbackStore
from .cycle import Pipeline
from .metrics import CALLBACK_HINTS

log = logging.getLogger(__name__)
GROUP = "ingest-callbacks"


@dataclass(frozen=True, order=True)
class Hint:
    cw_type: str  # normalised callback type: invoice, purchaseorder
    cw_id: int


def read_hint(record: dict) -> Hint:
    hint = Hint(str(record["cw_type"]), int(record["cw_id"]))
    if hint.cw_type not in ENDPOINTS:
        raise ValueError(f"cw_type: {hint.cw_type!r} is not a callback ingest follows")
    return hint


class CallbackWork:
    """Fetches the hinted records of one callback type, but not those whose last change is
    still on its way to Xero: they wait for it (see HintWindow)."""

    def __init__(self, pipeline: Pipeline, store: CallbackStore):
        self.pipeline, self.store = pipeline, store

    def __call__(self, cw_type: str, hints: list[Hint], window: HintWindow[Hint], now: float) -> None:
        busy = self.store.writes_in_flight(ENDPOINTS[cw_type].record_types, [h.cw_id for h in hints])
        waiting = [h for h in hints if h.cw_id in busy]
        overdue = set(window.wait_for_write(waiting, now))
        if len(waiting) > len(overdue):
            CALLBACK_HINTS.labels(outcome="waited_for_write").inc(len(waiting) - len(overdue))
        ready = [h for h in hints if h.cw_id not in busy or h in overdue]
        if not ready:
            return
        results = fetch_hinted(self.pipeline, self.store, cw_type, [h.cw_id for h in ready])
        window.done(ready)
        CALLBACK_HINTS.labels(outcome="fetched").inc(len(ready))
        emitted = ", ".join(f"{r.emitted} {r.record_type}" for r in results if r.emitted)
        log.info(
            "callbacks: %d %s records fetched, %s",
            len(ready),
            cw_type,
            f"emitted {emitted}" if emitted else "nothing changed",
        )


def callback_consumer(pipeline: Pipeline, store: CallbackStore, codec: Codec, window: HintWindow) -> HintConsumer:
    return HintConsumer(
        "ingest", CW_CALLBACKS, codec, read_hint, lambda hint: hint.cw_type, CallbackWork(pipeline, store), window
    )


def run_callbacks(
    settings: Settings, pipeline: Pipeline, store: CallbackStore, codec: Codec, producer, stop: threading.Event
) -> None:
    run_hint_consumer(
        "ingest",
        lambda: make_consumer(
            settings.kafka_bootstrap, GROUP, [CW_CALLBACKS.name], settings.session_timeout_ms, **LOW_LATENCY
        ),
        lambda: callback_consumer(pipeline, store, codec, HintWindow(settings.callback_window_seconds)),
        producer,
        stop,
    )
