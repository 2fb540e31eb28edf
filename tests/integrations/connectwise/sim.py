"""The ConnectWise simulator served by uvicorn on a free port in a thread, as pytest fixtures
(imported by the conftest of each test folder that needs it)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import uvicorn

from services.integrations.connectwise.client import CwClient
from services.common import sandbox_identity as identity
from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from services.sandbox.faults import Faults
from tests.conftest import free_port


@dataclass
class Sim:
    url: str
    state: CwState
    faults: Faults

    def client(self, **kwargs) -> CwClient:
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.5)
        return CwClient(self.url, identity.CW_COMPANY, identity.CW_PUBLIC_KEY, identity.CW_PRIVATE_KEY,
                        identity.CW_CLIENT_ID, **kwargs)


def serve_sim(state: CwState, faults: Faults) -> tuple[Sim, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(state, faults), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="cw-sim", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("ConnectWise simulator did not start")
        time.sleep(0.02)
    return Sim(identity.cw_base("127.0.0.1", port), state, faults), server, thread


@pytest.fixture
def cw_sim_factory():
    """cw_sim_factory(scale) -> a running simulator with that much synthetic data."""
    running = []

    def start(scale: int = 1, seed: int = 7) -> Sim:
        sim, server, thread = serve_sim(CwState.from_seed(seed, scale), Faults())
        running.append((server, thread))
        return sim

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def cw_sim(cw_sim_factory) -> Sim:
    return cw_sim_factory(1)
