"""Failed sign-ins, counted per client address: past the limit in the window, the address is
refused (429) until its oldest failure leaves the window. The API's bearer tokens and the
console's sign-in form share one counter, so neither door is a way round the other.

The counts live in the admin process's memory: the admin service is one process, a restart
(which a stranger cannot cause) forgets them, and a sign-in does not wait on Postgres to be
refused. Every failure is logged with the address and, when one was typed, the name; never
the secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

log = logging.getLogger(__name__)
MAX_ADDRESSES = 10_000  # a flood from many addresses must not grow the table without end


class TooManyFailures(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins from this address; try again in {retry_after} s")
        self.retry_after = retry_after


class FailedSignIns:
    def __init__(self, max_failures: int, window_seconds: float, clock=time.monotonic):
        self.max_failures, self.window, self.clock = max_failures, window_seconds, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        """Raises TooManyFailures while the address is over its limit."""
        now = self.clock()
        with self._lock:
            times = self._recent(address, now)
            if not times:
                self._failures.pop(address, None)
            if len(times) >= self.max_failures:
                raise TooManyFailures(max(1, int(times[0] + self.window - now + 0.999)))

    def failed(self, address: str, door: str, name: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))  # the oldest address seen goes first
            times = self._recent(address, now)
            times.append(now)
            self._failures[address] = times
            count = len(times)
        log.warning(
            "sign-in failed at the %s from %s%s (%d in %d s)",
            door,
            address,
            f" as {name[:100]!r}" if name else "",
            count,
            int(self.window),
            extra={"client": address, "door": door, "user": (name or "")[:100], "failures": count},
        )
