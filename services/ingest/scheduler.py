"""When each record type's next cycle is due, and the loop that runs them.

Cadence is read from `record_type_settings` on every tick, so a change made
in the admin API applies while ingest runs. A RUN_CYCLE command marks the type
`requested` in `sync_cursors` (durable) and wakes the loop.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from ..common.record_kinds import RecordKind
from .cycle import DEFAULT_OVERLAP, CycleResult, CycleStopped, Pipeline, run_cycle
from .sources import POLLED_TYPES
from .cursors import Cursor

log = logging.getLogger(__name__)
DEFAULT_CADENCE_MINUTES = 360


def is_due(cursor: Cursor, cadence: timedelta, now: datetime, retry_failed: timedelta) -> bool:
    """Pure: a type is due when asked for, never run, interrupted (its status
    still `running`, or `interrupted` by a stop; another ingest holding the lock
    is skipped by the lock),
    its cadence has passed since the last start, or a failed cycle's retry wait
    has passed."""
    status = cursor.last_cycle_status
    if status in ("requested", "running", "interrupted") or cursor.last_cycle_started is None:
        return True
    if status == "failed":
        since = cursor.last_cycle_finished or cursor.last_cycle_started
        return now >= since + min(retry_failed, cadence)
    return now >= cursor.last_cycle_started + cadence


class Scheduler:
    def __init__(
        self,
        pipeline: Pipeline,
        record_types: tuple[str, ...] = POLLED_TYPES,
        *,
        tick_seconds: float = 5.0,
        overlap: timedelta = DEFAULT_OVERLAP,
        retry_failed: timedelta = timedelta(minutes=5),
        run=run_cycle,
        xero_payments=None,
    ):
        self.pipeline, self.record_types, self.run_cycle = pipeline, record_types, run
        self.xero_payments = xero_payments  # polled per organisation on the xero_payment cadence (xero_payments.py)
        self.tick_seconds, self.overlap, self.retry_failed = tick_seconds, overlap, retry_failed
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def tick(self) -> list[CycleResult]:
        """Runs every due cycle once; a failing cycle is logged and retried later."""
        cadences = self.pipeline.store.cadence_minutes()
        results = []
        for record_type in self.record_types:
            cadence = timedelta(minutes=cadences.get(record_type, DEFAULT_CADENCE_MINUTES))
            cursor = self.pipeline.store.cursor(record_type)
            if not is_due(cursor, cadence, self.pipeline.clock(), self.retry_failed):
                continue
            try:
                results.append(self.run_cycle(self.pipeline, record_type, overlap=self.overlap))
            except CycleStopped as exc:
                log.info("%s", exc)
                break
            except Exception:
                log.exception("cycle for %s failed; it resumes from its cursor", record_type)
        stopping = self.pipeline.stop is not None and self.pipeline.stop.is_set()
        if self.xero_payments is not None and not stopping:
            cadence = timedelta(minutes=cadences.get(RecordKind.XERO_PAYMENT, DEFAULT_CADENCE_MINUTES))
            results += self.xero_payments.tick(cadence, self.retry_failed, self.pipeline.stop)
        return results

    def run(self, stop: threading.Event) -> None:
        self.pipeline.stop = stop
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # Postgres away: keep the loop alive, try next tick
                log.exception("scheduler tick failed")
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
