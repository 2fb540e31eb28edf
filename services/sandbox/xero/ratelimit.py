"""Xero's rate limits: per organisation 5 concurrent calls, 60 a minute and
5,000 a day, and 10,000 a minute per app across organisations. Windows are
rolling and measured on an injectable clock so a test can move time; the
limits change at run time through the control endpoint."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable


@dataclass
class Limits:
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10000

    def update(self, **changes: Any) -> None:
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"{name}: unknown limit")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a whole number of 1 or more")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    problem: str | None = None
    retry_after: int = 0


class RateLimiter:
    def __init__(self, limits: Limits | None = None, now: Callable[[], float] | None = None) -> None:
        import time

        self.limits = limits or Limits()
        self.now = now or time.time
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._day: dict[str, deque[float]] = {}
        self._app: deque[float] = deque()
        self._active: dict[str, int] = {}

    @staticmethod
    def _trim(window: deque[float], horizon: float) -> None:
        while window and window[0] <= horizon:
            window.popleft()

    def acquire(self, tenant: str) -> Decision:
        """Count a call for `tenant`, or refuse it with the limit it broke. A
        refused call is not counted, as with Xero. An allowed call holds a
        concurrency slot until release()."""
        with self._lock:
            now, limits = self.now(), self.limits
            minute = self._minute.setdefault(tenant, deque())
            day = self._day.setdefault(tenant, deque())
            self._trim(minute, now - 60)
            self._trim(day, now - 86400)
            self._trim(self._app, now - 60)
            problem: str | None = None
            retry: float = 0
            if len(day) >= limits.per_day:
                problem, retry = "day", day[0] + 86400 - now
            elif len(self._app) >= limits.app_per_minute:
                problem, retry = "appminute", self._app[0] + 60 - now
            elif len(minute) >= limits.per_minute:
                problem, retry = "minute", minute[0] + 60 - now
            elif self._active.get(tenant, 0) >= limits.concurrent:
                problem, retry = "concurrent", 1
            if problem is None:
                minute.append(now)
                day.append(now)
                self._app.append(now)
                self._active[tenant] = self._active.get(tenant, 0) + 1
            headers = {
                "X-DayLimit-Remaining": str(max(limits.per_day - len(day), 0)),
                "X-MinLimit-Remaining": str(max(limits.per_minute - len(minute), 0)),
                "X-AppMinLimit-Remaining": str(max(limits.app_per_minute - len(self._app), 0)),
            }
            if problem is None:
                return Decision(True, headers)
            retry_after = max(1, math.ceil(retry))
            headers.update({"Retry-After": str(retry_after), "X-Rate-Limit-Problem": problem})
            return Decision(False, headers, problem, retry_after)

    def release(self, tenant: str) -> None:
        with self._lock:
            self._active[tenant] = max(self._active.get(tenant, 0) - 1, 0)

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._day.clear()
            self._app.clear()
