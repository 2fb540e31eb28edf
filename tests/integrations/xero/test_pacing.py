"""Pacing rules on a simulated clock: the waits follow the limits and the headers."""
import math
import random
from collections import deque

import pytest

from services.integrations.xero.pacing import DAY, Limits, Pacer


def test_sixty_calls_then_waits_for_the_oldest_to_leave_the_minute():
    pacer = Pacer(Limits(per_minute=60))
    for i in range(60):
        assert pacer.wait("a", i * 0.5).ready
        pacer.start("a", i * 0.5)
        pacer.finish("a", i * 0.5, 200, {})
    wait = pacer.wait("a", 30.0)
    assert wait.reason == "minute"
    assert wait.seconds == pytest.approx(30.0, abs=0.1)  # the first call, at 0, leaves the window at 60
    assert pacer.wait("a", 60.1).ready
    assert pacer.wait("b", 30.0).ready  # another organisation has its own budget


def test_headers_lower_the_budget_when_someone_else_spent_calls():
    pacer = Pacer(Limits(per_minute=60))
    pacer.start("a", 0.0)
    # Xero says only 3 are left (a previous run spent 56 in this minute).
    pacer.finish("a", 0.1, 200, {"X-MinLimit-Remaining": "3", "X-DayLimit-Remaining": "4000",
                                 "X-AppMinLimit-Remaining": "9000"})
    for t in (1.0, 2.0, 3.0):
        assert pacer.wait("a", t).ready
        pacer.start("a", t)
        pacer.finish("a", t, 200, {})
    wait = pacer.wait("a", 4.0)
    assert not wait.ready and wait.reason == "minute"
    # Window full: our 4 calls and 56 phantom ones; the oldest (ours, at 0) leaves at 60.
    assert wait.seconds == pytest.approx(60.0 - 4.0, abs=0.1)


def test_headers_never_raise_the_budget_above_the_configured_limit():
    pacer = Pacer(Limits(per_minute=5))
    for t in range(5):
        pacer.start("a", t)
        pacer.finish("a", t, 200, {"X-MinLimit-Remaining": "59"})
    assert not pacer.wait("a", 5).ready


def test_429_honours_retry_after_for_that_organisation_only():
    pacer = Pacer()
    pacer.start("a", 10.0)
    pacer.finish("a", 10.0, 429, {"Retry-After": "7", "X-Rate-Limit-Problem": "minute"})
    wait = pacer.wait("a", 11.0)
    assert wait.seconds == pytest.approx(6.0) and "minute" in wait.reason
    assert pacer.wait("b", 11.0).ready
    assert pacer.wait("a", 17.0).ready


def test_app_minute_429_blocks_every_organisation():
    pacer = Pacer()
    pacer.start("a", 0.0)
    pacer.finish("a", 0.0, 429, {"Retry-After": "20", "X-Rate-Limit-Problem": "appminute"})
    assert pacer.wait("b", 1.0).seconds == pytest.approx(19.0)


def test_429_without_retry_after_waits_a_minute_for_the_minute_limit():
    pacer = Pacer()
    pacer.start("a", 0.0)
    pacer.finish("a", 0.0, 429, {"X-Rate-Limit-Problem": "minute"})
    assert pacer.wait("a", 0.0).seconds == pytest.approx(60.0)


def test_concurrency_waits_for_a_call_to_finish():
    pacer = Pacer(Limits(concurrent=5))
    for _ in range(5):
        pacer.start("a", 0.0)
    assert pacer.wait("a", 0.0).seconds == math.inf
    pacer.finish("a", 0.2, 200, {})
    assert pacer.wait("a", 0.2).ready


def test_day_budget_seeded_from_usage_and_lowered_by_the_day_header():
    pacer = Pacer(Limits(per_day=5000, per_minute=60))
    pacer.seed_day_usage("a", 4999, now=0.0)
    pacer.start("a", 1.0)
    pacer.finish("a", 1.0, 200, {})
    wait = pacer.wait("a", 2.0)
    assert wait.reason == "day" and wait.seconds == pytest.approx(DAY - 2.0, abs=0.1)
    other = Pacer()
    other.start("b", 0.0)
    other.finish("b", 0.0, 200, {"X-DayLimit-Remaining": "0"})
    assert other.wait("b", 100.0).reason == "day"


def test_a_day_429_waits_for_xeros_retry_after_not_a_day_from_now():
    # Xero's day is rolling: at the limit it says when the oldest call of the day leaves (here in an hour).
    pacer = Pacer(Limits(per_day=5000, per_minute=60))
    pacer.seed_day_usage("a", 4000, now=0.0)
    pacer.start("a", 10.0)
    pacer.finish("a", 10.5, 429, {"Retry-After": "3600", "X-Rate-Limit-Problem": "day", "X-DayLimit-Remaining": "0"})
    wait = pacer.wait("a", 11.0)
    assert wait.reason == "day" and wait.seconds == pytest.approx(3600 - 0.5, abs=0.2)
    assert pacer.wait("a", 10.5 + 3600 + 0.2).ready  # not DAY seconds after the phantoms were stamped
    # The server's remaining count lowers the budget again: one call fits, then its answer says none is left.
    pacer.start("a", 3700.0)
    pacer.finish("a", 3700.0, 200, {"X-DayLimit-Remaining": "0"})
    assert pacer.wait("a", 3701.0).reason == "day"
    # Without Retry-After a day 429 waits a minute and the budget stays as the headers had it.
    other = Pacer()
    other.start("b", 0.0)
    other.finish("b", 0.0, 429, {"X-Rate-Limit-Problem": "day", "X-DayLimit-Remaining": "0"})
    assert other.wait("b", 120.0).reason == "day"


class RollingServer:
    """Xero's per-organisation minute limit, rolling, with a neighbour spending calls too."""

    def __init__(self, limit: int):
        self.limit, self.calls = limit, deque()

    def call(self, now: float) -> tuple[int, dict]:
        while self.calls and self.calls[0] <= now - 60:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            return 429, {"Retry-After": str(max(1, math.ceil(self.calls[0] + 60 - now))),
                         "X-Rate-Limit-Problem": "minute", "X-MinLimit-Remaining": "0"}
        self.calls.append(now)
        return 200, {"X-MinLimit-Remaining": str(self.limit - len(self.calls))}


@pytest.mark.parametrize("seed", range(5))
def test_paced_client_never_exceeds_the_server_limit_and_keeps_near_the_rate(seed):
    rng = random.Random(seed)
    server = RollingServer(limit=60)
    pacer = Pacer(Limits(per_minute=60))
    now, sent, rejected = 0.0, 0, 0
    # A neighbour (another process) spends 20 calls early on; the pacer only learns from headers.
    for t in range(20):
        server.call(-1.0 + t * 0.01)
    while now < 600:
        wait = pacer.wait("a", now)
        if not wait.ready:
            assert wait.seconds < 61  # never an unbounded wait on the minute limit
            now += wait.seconds
            continue
        pacer.start("a", now)
        started = now
        status, headers = server.call(now)
        now += rng.uniform(0.05, 0.4)  # latency
        pacer.finish("a", now, status, headers, started)
        sent += 1
        rejected += status == 429
    assert rejected <= 1  # at most the first call, before any header told of the neighbour
    # Close to the floor: in 600 s the limit allows 600 calls, minus the neighbour's 20.
    assert sent >= 560
