"""Hints gathered into few fetches. Pure: the caller passes the time.

A ConnectWise callback or a Xero webhook event says only that one record changed,
and a burst (an import, a bulk edit, a batch of payments) sends one per record. So
hints are gathered until they stop coming for `window` seconds, or `max_delay`
after the oldest, and their records fetched together (a page of ids at once)
instead of one call each. The same record hinted twice is fetched once; an invoice
built line by line is fetched once it is complete, not half-way; a steady burst
costs one round of fetches per `max_delay`. A hint is any hashable, orderable key.

A record whose previous change is still on its way to Xero (emitted and not yet
written) waits for that write, so two versions of one record never race, and
what Xero shows is not mistaken for someone else's doing; it waits at most
`max_wait` seconds (a writer that is down must not hold everything back for ever).

Each hint remembers where it came from (partition, offset), so the consumer
commits only offsets whose hints are done: a crash loses none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class _Key(Protocol):
    """What a hint must be: hashable (one per record) and orderable (handed over sorted)."""

    def __hash__(self) -> int: ...

    def __lt__(self, other: Any, /) -> bool: ...


Hint = TypeVar("Hint", bound=_Key)


@dataclass
class _Pending:
    first_seen: float
    origins: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset) of each message
    held_until: float | None = None  # put back: to look again then (a write in flight, a failed fetch)
    waiting_since: float | None = None  # when it started waiting for a write in flight


class HintWindow(Generic[Hint]):
    def __init__(
        self,
        window: float,
        max_batch: int = 1000,
        max_wait: float = 30.0,
        recheck: float = 0.5,
        max_delay: float | None = None,
    ):
        if window <= 0:
            raise ValueError("window: must be positive")
        self.window, self.max_batch, self.max_wait, self.recheck = window, max_batch, max_wait, recheck
        self.max_delay = 4 * window if max_delay is None else max(max_delay, window)
        self._pending: dict[Hint, _Pending] = {}
        self._last_added: float | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, hint: Hint) -> bool:
        return hint in self._pending

    def add(self, hint: Hint, now: float, origin: tuple[int, int] | None = None) -> None:
        pending = self._pending.get(hint)
        if pending is None:
            pending = self._pending[hint] = _Pending(now)
        if origin is not None:
            pending.origins.append(origin)
        self._last_added = now

    def _fresh(self) -> list[_Pending]:
        return [p for p in self._pending.values() if p.held_until is None]

    def next_due(self) -> float | None:
        """When hints are next due, or None when there is none."""
        times = [p.held_until for p in self._pending.values() if p.held_until is not None]
        fresh = self._fresh()
        if fresh:
            oldest = min(p.first_seen for p in fresh)
            last = oldest if self._last_added is None else self._last_added
            times.append(min(last + self.window, oldest + self.max_delay))
        return min(times, default=None)

    def due(self, now: float) -> bool:
        if any(p.held_until is not None and p.held_until <= now for p in self._pending.values()):
            return True
        fresh = self._fresh()
        due_at = self.next_due()
        return bool(fresh) and (len(fresh) >= self.max_batch or (due_at is not None and now >= due_at))

    def take(self, now: float) -> list[Hint]:
        """The hints to fetch now: every fresh one (once they stopped coming, or the oldest waited
        `max_delay`), and those put back whose time has come. They stay pending (with their
        origins) until `done`."""
        if not self.due(now):
            return []
        return sorted(h for h, p in self._pending.items() if p.held_until is None or p.held_until <= now)[
            : self.max_batch
        ]

    def wait_for_write(self, hints: list[Hint], now: float) -> list[Hint]:
        """Puts back hints whose record has a write in flight, to look again shortly; returns
        those that have waited `max_wait` already, to be fetched anyway."""
        overdue = []
        for hint in hints:
            pending = self._pending[hint]
            if pending.waiting_since is None:
                pending.waiting_since = now
            if now - pending.waiting_since >= self.max_wait:
                overdue.append(hint)
            else:
                pending.held_until = now + self.recheck
        return overdue

    def done(self, hints: list[Hint]) -> None:
        """These were fetched (or given up on): forget them."""
        for hint in hints:
            self._pending.pop(hint, None)

    def retry_later(self, hints: list[Hint], now: float, delay: float) -> None:
        """A fetch failed (the remote API or Postgres away): try these again after `delay`."""
        for hint in hints:
            if hint in self._pending:
                self._pending[hint].held_until = now + delay

    def uncommitted(self) -> dict[int, int]:
        """partition -> the lowest offset whose hint is still pending (nothing at or after it
        may be committed)."""
        lowest: dict[int, int] = {}
        for pending in self._pending.values():
            for partition, offset in pending.origins:
                if offset < lowest.get(partition, offset + 1):
                    lowest[partition] = offset
        return lowest


def commit_positions(consumed: dict[int, int], pending: dict[int, int]) -> dict[int, int]:
    """The offset to commit per partition: after the last consumed message, or at the first
    hint still pending, whichever is lower. `consumed` is partition -> last offset read."""
    return {partition: min(last + 1, pending.get(partition, last + 1)) for partition, last in consumed.items()}
