"""Helpers for the ConnectWise simulator tests: a real uvicorn server on a free
port in a thread, the sandbox credentials as headers, and a movable clock."""
from __future__ import annotations

import base64
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import uvicorn

from services.common import sandbox_identity as identity
from services.sandbox.connectwise.state import CwState
from tests.conftest import free_port

API = "/v4_6_release/apis/3.0"


def auth_headers(company: str = identity.CW_COMPANY, public: str = identity.CW_PUBLIC_KEY,
                 private: str = identity.CW_PRIVATE_KEY, client_id: str | None = identity.CW_CLIENT_ID) -> dict[str, str]:
    token = base64.b64encode(f"{company}+{public}:{private}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    if client_id is not None:
        headers["clientId"] = client_id
    return headers


class ManualClock:
    """A clock a test moves by hand; it starts after every seeded record's stamp
    (the seed's default anchor is 2026-11-20)."""

    def __init__(self, start: datetime = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Server:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                   lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return self.root + API

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the simulator did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=auth_headers(), timeout=30, **kwargs)


def small_state(clock=None) -> CwState:
    return CwState.from_seed(7, 1, clock=clock or ManualClock())
