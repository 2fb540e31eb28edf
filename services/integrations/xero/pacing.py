"""Pacing of Xero calls inside its limits, as pure logic (the clock is passed in).

Xero allows per organisation 5 concurrent calls, 60 a minute and 5,000 a day,
and 10,000 a minute per app across every organisation. The pacer keeps its own
sliding windows of the calls it sent and corrects them from what Xero says on
every response (`X-MinLimit-Remaining`, `X-DayLimit-Remaining`,
`X-AppMinLimit-Remaining`): when Xero counts fewer calls left than the pacer
thinks, someone else spent them (another process, a run before a restart), so
the difference is added to the window as calls made now. That errs on the safe
side: such a phantom call expires a full window later, never earlier.

A 429 blocks the organisation (or the whole app for `appminute`) for its
`Retry-After`. Waits are returned, never slept here, so the rules are tested
with a simulated clock; `client.PacerGate` does the sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Mapping

MINUTE = 60.0
DAY = 86400.0
EDGE_MARGIN = 0.05


@dataclass(frozen=True)
class Limits:
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10000

    def __post_init__(self) -> None:
        for name in ("concurrent", "per_minute", "per_day", "app_per_minute"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")


@dataclass
class Window:
    """Times of calls within the last `span` seconds, capped at `limit`."""

    limit: int
    span: float
    times: deque = field(default_factory=deque)

    def expire(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()

    def remaining(self, now: float) -> int:
        self.expire(now)
        return self.limit - len(self.times)

    def wait(self, now: float) -> float:
        """Seconds until one more call fits."""
        self.expire(now)
        if len(self.times) < self.limit:
            return 0.0
        # The call that must expire before the next fits, plus a hair: the server's
        # window edge and ours are measured on different clocks.
        return self.times[len(self.times) - self.limit] + self.span - now + EDGE_MARGIN

    def add(self, now: float, count: int = 1) -> None:
        self.times.extend([now] * count)

    def room_at(self, until: float) -> None:
        """The server says (Retry-After) that the window has room again at `until`. Calls we counted
        as leaving it later (phantoms stamped when the server said none remained) leave it then; the
        remaining-headers of the calls after that lower the budget again if the room is less."""
        self.times = deque(min(t, until - self.span) for t in self.times)

    def reconcile(self, now: float, server_remaining: int | None, counted_at: float | None = None) -> None:
        """Adds phantom calls (stamped `now`) so that our remaining is no more than the server's.
        The server counted as of `counted_at` (when the call left); comparing against our window
        as of then keeps calls that expired meanwhile from looking like someone else's."""
        if server_remaining is None:
            return
        at = now if counted_at is None else counted_at
        ours = sum(1 for t in self.times if at - self.span < t <= at)
        self.expire(now)
        extra = (self.limit - ours) - max(server_remaining, 0)
        if extra > 0:
            self.add(now, extra)


@dataclass
class OrgState:
    minute: Window
    day: Window
    in_flight: int = 0
    blocked_until: float = 0.0
    block_reason: str = ""


@dataclass(frozen=True)
class Wait:
    """How long before the next call may start; `seconds` is 0 when it may start now.
    `seconds` is infinite when only a finishing call can free a slot (concurrency)."""

    seconds: float
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.seconds <= 0


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


def retry_after_seconds(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Retry-After in seconds (Xero sends delta-seconds); `default` when absent or unreadable."""
    value = _header_int(headers, "Retry-After")
    return float(value) if value is not None and value >= 0 else default


class Pacer:
    """Per-organisation and app-wide budgets. Not thread-safe: wrap it in a lock."""

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self.orgs: dict[str, OrgState] = {}
        self.app = Window(limits.app_per_minute, MINUTE)
        self.app_blocked_until = 0.0

    def org(self, org_id: str) -> OrgState:
        state = self.orgs.get(org_id)
        if state is None:
            state = OrgState(Window(self.limits.per_minute, MINUTE), Window(self.limits.per_day, DAY))
            self.orgs[org_id] = state
        return state

    def seed_day_usage(self, org_id: str, calls: int, now: float) -> None:
        """Counts calls already made today (from api_usage) as made now: safe after a restart."""
        state = self.org(org_id)
        state.day.add(now, max(0, calls - len(state.day.times)))

    def wait(self, org_id: str, now: float) -> Wait:
        state = self.org(org_id)
        if state.in_flight >= self.limits.concurrent:
            return Wait(math.inf, "concurrent")
        waits = [
            Wait(state.blocked_until - now, f"retry-after ({state.block_reason})"),
            Wait(self.app_blocked_until - now, "retry-after (appminute)"),
            Wait(state.minute.wait(now), "minute"),
            Wait(state.day.wait(now), "day"),
            Wait(self.app.wait(now), "appminute"),
        ]
        longest = max(waits, key=lambda w: w.seconds)
        return longest if longest.seconds > 0 else Wait(0.0)

    def start(self, org_id: str, now: float) -> None:
        """A call is leaving now (only after `wait` said it is ready)."""
        state = self.org(org_id)
        state.in_flight += 1
        state.minute.add(now)
        state.day.add(now)
        self.app.add(now)

    def finish(
        self, org_id: str, now: float, status: int | None, headers: Mapping[str, str], started: float | None = None
    ) -> None:
        """A call (started at `started`) came back; status None: no response at all."""
        state = self.org(org_id)
        state.in_flight = max(0, state.in_flight - 1)
        state.minute.reconcile(now, _header_int(headers, "X-MinLimit-Remaining"), started)
        state.day.reconcile(now, _header_int(headers, "X-DayLimit-Remaining"), started)
        self.app.reconcile(now, _header_int(headers, "X-AppMinLimit-Remaining"), started)
        if status != 429:
            return
        problem = next((str(v).lower() for k, v in headers.items() if k.lower() == "x-rate-limit-problem"), "")
        # Without Retry-After, wait out what the problem names (a whole minute for the minute limit).
        default = {"minute": MINUTE, "appminute": MINUTE, "day": MINUTE, "concurrent": 1.0}.get(problem, 1.0)
        until = now + retry_after_seconds(headers, default)
        if problem == "appminute":
            self.app_blocked_until = max(self.app_blocked_until, until)
        else:
            if problem == "day" and retry_after_seconds(headers, 0.0) > 0:
                # Xero's day is rolling: its Retry-After says when the oldest of the day's calls leaves
                # it, often hours sooner than a day counted from the phantoms stamped now.
                state.day.room_at(until)
            state.blocked_until = max(state.blocked_until, until)
            state.block_reason = problem or "429"
