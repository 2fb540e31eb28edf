"""Xero's rate limits over HTTP (the 61st call in a minute gets 429 with
Retry-After) and the limiter's windows on a moved clock."""
from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from services.common.sandbox_identity import ORGANISATIONS
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits, RateLimiter
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state


@pytest.fixture()
def sim():
    state = build_state(generate(7, 0))
    with serving(create_app(state)) as base:
        token = sign_in(base)["access_token"]
        yield state, base, {"Authorization": f"Bearer {token}"}


def get(base, headers, tenant=ORGANISATIONS[0].tenant_id):
    return httpx.get(f"{base}/api.xro/2.0/Invoices", headers={**headers, "xero-tenant-id": tenant})


def test_61st_call_in_a_minute_is_refused(sim):
    state, base, headers = sim
    with httpx.Client() as client:
        replies = [client.get(f"{base}/api.xro/2.0/Contacts",
                              headers={**headers, "xero-tenant-id": ORGANISATIONS[0].tenant_id}) for _ in range(61)]
    assert [r.status_code for r in replies[:60]] == [200] * 60
    assert replies[0].headers["X-MinLimit-Remaining"] == "59"
    assert replies[59].headers["X-MinLimit-Remaining"] == "0"
    assert replies[0].headers["X-DayLimit-Remaining"] == "4999"
    assert int(replies[0].headers["X-AppMinLimit-Remaining"]) == 9999
    refused = replies[60]
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another organisation has its own minute.
    assert get(base, headers, ORGANISATIONS[1].tenant_id).status_code == 200
    state.clock.advance(61)
    assert get(base, headers).status_code == 200


def test_limits_change_at_run_time_and_rate_limit_comes_before_idempotency(sim):
    state, base, headers = sim
    assert httpx.post(f"{base}/_sandbox/limits", json={"per_minute": 3}).status_code == 200
    assert httpx.post(f"{base}/_sandbox/limits", json={"per_minute": 0}).status_code == 400
    tenant = {**headers, "xero-tenant-id": ORGANISATIONS[2].tenant_id, "Idempotency-Key": "k1"}
    body = {"Contacts": [{"Name": "Rate Limited Pty Ltd"}]}
    first = httpx.put(f"{base}/api.xro/2.0/Contacts", json=body, headers=tenant)
    assert first.status_code == 200
    assert [httpx.put(f"{base}/api.xro/2.0/Contacts", json=body, headers=tenant).status_code
            for _ in range(3)] == [200, 200, 429]


def test_concurrent_limit(sim):
    _, base, headers = sim
    httpx.post(f"{base}/_sandbox/limits", json={"processing_ms": 1500})
    with concurrent.futures.ThreadPoolExecutor(7) as pool:
        replies = list(pool.map(lambda _: get(base, headers), range(7)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(200) == 5 and statuses.count(429) == 2
    assert {r.headers["X-Rate-Limit-Problem"] for r in replies if r.status_code == 429} == {"concurrent"}


class FakeTime:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_day_and_app_limits_on_a_moved_clock():
    clock = FakeTime()
    limiter = RateLimiter(Limits(concurrent=100, per_minute=1000, per_day=5, app_per_minute=7), clock)
    for _ in range(5):
        assert limiter.acquire("a").allowed
        limiter.release("a")
        clock.t += 61
    day = limiter.acquire("a")
    assert not day.allowed and day.problem == "day" and day.headers["X-DayLimit-Remaining"] == "0"
    assert int(day.headers["Retry-After"]) > 80000
    limiter = RateLimiter(Limits(concurrent=100, per_minute=1000, per_day=100, app_per_minute=7), clock)
    for tenant in "bbbbddd":
        assert limiter.acquire(tenant).allowed
    app = limiter.acquire("c")
    assert not app.allowed and app.problem == "appminute"
    clock.t += 60
    assert limiter.acquire("c").allowed
