"""`python -m services.sandbox` serves both simulators on the configured
ports, with control routes on both, and stops cleanly on SIGTERM."""
from __future__ import annotations

import pytest
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.common.sandbox_identity import CW_CLIENT_ID, CW_COMPANY, CW_PRIVATE_KEY, CW_PUBLIC_KEY, ORGANISATIONS
from services.sandbox.xero.serve import free_port, sign_in

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        try:
            reply = httpx.get(url, timeout=1)
            if reply.status_code == 200:
                return reply
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_entry_point_serves_both_and_stops_on_sigterm(tmp_path):
    cw_port, xero_port = free_port(), free_port()
    env = {**os.environ, "CZ_SANDBOX_CW_PORT": str(cw_port), "CZ_SANDBOX_XERO_PORT": str(xero_port),
           "CZ_SANDBOX_SEED": "11", "CZ_SANDBOX_SCALE": "0", "CZ_SANDBOX_MUTATE_SECONDS": "0.5",
           "CZ_SANDBOX_XERO_MINUTE_LIMIT": "600",
           "CZ_HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "services.sandbox"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        cw = f"http://127.0.0.1:{cw_port}"
        xero = f"http://127.0.0.1:{xero_port}"
        assert wait_healthy(f"{cw}/healthz", proc).json()["status"] == "ok"
        assert wait_healthy(f"{xero}/healthz", proc).json()["status"] == "ok"
        # Both answer as the product would call them.
        companies = httpx.get(f"{cw}/v4_6_release/apis/3.0/company/companies",
                              auth=(f"{CW_COMPANY}+{CW_PUBLIC_KEY}", CW_PRIVATE_KEY), headers={"clientId": CW_CLIENT_ID})
        assert companies.status_code == 200 and companies.json()
        token = sign_in(xero)["access_token"]
        contacts = httpx.get(f"{xero}/api.xro/2.0/Contacts",
                             headers={"Authorization": f"Bearer {token}", "xero-tenant-id": ORGANISATIONS[0].tenant_id})
        assert contacts.status_code == 200 and contacts.json()["Contacts"]
        assert contacts.headers["X-MinLimit-Remaining"] == "599"  # the limit came from the environment
        # Control routes on both ports; the clock is shared.
        assert httpx.post(f"{cw}/_sandbox/clock", json={"advance_seconds": 3600}).status_code == 200
        state = httpx.get(f"{xero}/_sandbox/state").json()
        assert abs(time.time() + 3600 - _epoch(state["now"])) < 60
        assert httpx.post(f"{xero}/_sandbox/faults", json={"error_rate": 1.0}).status_code == 200
        assert httpx.get(f"{xero}/api.xro/2.0/Contacts", headers={"Authorization": f"Bearer {token}"}).status_code >= 500
        assert httpx.post(f"{xero}/_sandbox/faults", json={"clear": True}).status_code == 200
        assert httpx.post(f"{cw}/_sandbox/faults", json={"error_rate": 1.0}).status_code == 200
        assert httpx.get(f"{cw}/v4_6_release/apis/3.0/company/companies",
                         auth=(f"{CW_COMPANY}+{CW_PUBLIC_KEY}", CW_PRIVATE_KEY),
                         headers={"clientId": CW_CLIENT_ID}).status_code >= 500
        assert httpx.get(f"{cw}/_sandbox/state").json()["faults"]["error_rate"] == 1.0
        assert httpx.post(f"{xero}/_sandbox/limits", json={"per_minute": 600}).json()["limits"]["per_minute"] == 600
        time.sleep(1.2)  # mutator rounds have run: Xero-only invoices got their unmatchable payments
        assert proc.poll() is None
        organisations = httpx.get(f"{xero}/_sandbox/state").json()["organisations"]
        assert sum(o["payments"] for o in organisations) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, proc.stderr.read().decode()
    for port in (cw_port, xero_port):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            raise AssertionError(f"port {port} still answers after SIGTERM")
        except httpx.ConnectError:
            pass


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_listening_sockets_are_tcp_so_small_replies_are_not_delayed():
    """asyncio disables Nagle only on sockets whose proto is TCP; a proto-0
    listener made every small reply wait ~40 ms for a delayed ACK."""
    import socket

    from services.sandbox.app import Sandbox

    sandbox = Sandbox(7, 0, mutate_seconds=0)
    sock = sandbox._bind(free_port(), "Xero")
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        try:
            sandbox._bind(taken.getsockname()[1], "ConnectWise")
            raise AssertionError("binding a taken port must fail")
        except OSError as exc:
            assert "ConnectWise simulator: cannot listen on 127.0.0.1" in str(exc)
    finally:
        taken.close()
