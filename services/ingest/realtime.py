"""Wiring of ingest's real-time path, beside the scheduler: the consumer of the
callbacks the receivers queue, the registration of those callbacks with
ConnectWise when the receivers are exposed, and the count of changes the schedule
found that no callback brought (the schedule stays the safety net)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..common.codec import Codec
from ..common.database import Database
from ..common.receiver_urls import public_base
from ..common.secrets import callback_secret
from ..common.settings import Settings
from .callback_consumer import run_callbacks
from .callback_registration import keep_registered
from .callback_store import CallbackStore
from .cycle import CycleResult, Pipeline, run_cycle
from .metrics import CALLBACK_MISSES
from .poller import EPOCH

log = logging.getLogger(__name__)


def counting_misses(run: Callable[..., CycleResult]) -> Callable[..., CycleResult]:
    """A cycle runner that counts, in `cz_callback_misses_total`, the records a scheduled cycle
    emitted: with callbacks on, each is a change no callback brought (a first cycle, reading
    everything, is a backfill, not a miss)."""

    def run_and_count(pipeline: Pipeline, record_type: str, **kwargs) -> CycleResult:
        result = run(pipeline, record_type, **kwargs)
        if (
            result.trigger == "SCHEDULE"
            and not result.skipped
            and result.emitted
            and result.cursor_from not in (None, EPOCH)
        ):
            CALLBACK_MISSES.labels(record_type=record_type).inc(result.emitted)
            log.info(
                "cycle %s found %d changes no callback brought: %s",
                record_type,
                result.emitted,
                ", ".join(str(i) for i in result.emitted_ids[:20]),
            )
        return result

    return run_and_count


@dataclass
class Realtime:
    run_cycle: Callable[..., CycleResult]  # what the scheduler runs a cycle with
    threads: list[threading.Thread] = field(default_factory=list)

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)


def start(
    settings: Settings,
    codec: Codec,
    producer,
    db: Database,
    stop: threading.Event,
    make_pipeline: Callable[[], Pipeline],
) -> Realtime:
    """Starts the callbacks consumer (always: hints may come from callbacks registered by hand)
    and, when the receivers have a public URL, the registration; each thread has its own pipeline."""
    realtime = Realtime(run_cycle)
    realtime.threads.append(
        threading.Thread(
            target=run_callbacks,
            args=(settings, make_pipeline(), CallbackStore(db), codec, producer, stop),
            name="ingest-callbacks",
            daemon=True,
        )
    )
    base = public_base(settings)
    if base is None:
        log.info(
            "CZ_RECEIVERS_PUBLIC_URL is empty: no ConnectWise callbacks are registered; changes wait for the schedule"
        )
    else:
        realtime.run_cycle = counting_misses(run_cycle)
        realtime.threads.append(
            threading.Thread(
                target=keep_registered,
                args=(make_pipeline().client, base, callback_secret(settings), stop),
                name="ingest-callback-registration",
                daemon=True,
            )
        )
    for thread in realtime.threads:
        thread.start()
    return realtime
