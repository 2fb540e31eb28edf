"""Fault injection on the ConnectWise simulator over real HTTP: the share of
5xx, added latency, 429 storms with Retry-After, dropped connections, and the
run-time control endpoint."""
import random
import time

import httpx
import pytest

from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from services.sandbox.faults import Faults
from tests.sandbox.cw_support import ManualClock, Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faults():
    return Faults()


@pytest.fixture(scope="module")
def server(faults):
    state = CwState.from_seed(7, 0, clock=ManualClock())
    with Server(create_app(state, faults, rng=random.Random(42))) as srv:
        yield srv


@pytest.fixture(autouse=True)
def reset(faults):
    faults.clear()
    yield
    faults.clear()


def test_share_of_5xx_follows_error_rate(server, faults):
    faults.update(error_rate=0.3)
    with server.client() as cw:
        statuses = [cw.get("/system/locations").status_code for _ in range(400)]
    errors = [s for s in statuses if s >= 500]
    assert set(statuses) <= {200, 500, 502, 503}
    assert 0.22 < len(errors) / len(statuses) < 0.38, len(errors)
    faults.update(error_rate=1.0)
    with server.client() as cw:
        failed = cw.get("/system/locations")
    assert failed.status_code >= 500 and failed.json()["code"] == "ServerError"


def test_latency_is_added_to_every_call(server, faults):
    with server.client() as cw:
        started = time.monotonic()
        for _ in range(5):
            cw.get("/system/locations")
        fast = (time.monotonic() - started) / 5
        faults.update(latency_ms=150)
        started = time.monotonic()
        for _ in range(5):
            assert cw.get("/system/locations").status_code == 200
        slow = (time.monotonic() - started) / 5
    assert slow >= 0.15 and slow - fast >= 0.12


def test_429_storm_counts_down_with_retry_after(server, faults):
    faults.update(storm_429=3, retry_after_seconds=2)
    with server.client() as cw:
        responses = [cw.get("/system/locations") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "2"
    assert responses[0].json()["code"] == "TooManyRequests"


def test_dropped_connection_surfaces_as_a_transport_error(server, faults):
    faults.update(drop_connection_rate=1.0)
    with server.client() as cw:
        with pytest.raises(httpx.TransportError):
            cw.get("/system/locations")
    faults.update(drop_connection_rate=0.0)
    with server.client() as cw:
        assert cw.get("/system/locations").status_code == 200


def test_control_endpoint_switches_faults_at_run_time(server, faults):
    with httpx.Client(base_url=server.root) as control:
        changed = control.put("/_sandbox/faults", json={"storm_429": True})
        assert changed.status_code == 200 and changed.json()["storm_429"] is True
        # Health and control stay reachable during a storm; the API does not.
        assert control.get("/healthz").status_code == 200
        with server.client() as cw:
            assert cw.get("/system/locations").status_code == 429
        bad = control.put("/_sandbox/faults", json={"error_rate": 3})
        assert bad.status_code == 400 and "error_rate" in bad.json()["message"]
        control.put("/_sandbox/faults", json={"storm_429": False})
        assert control.get("/_sandbox/faults").json()["storm_429"] is False
    with server.client() as cw:
        assert cw.get("/system/locations").status_code == 200


def test_faults_validate_their_settings():
    with pytest.raises(ValueError, match="drop_connection_rate"):
        Faults(drop_connection_rate=-0.1)
    faults = Faults()
    with pytest.raises(ValueError, match="colour: unknown fault setting"):
        faults.update(colour=1)
