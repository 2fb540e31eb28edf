"""Requests per second the ConnectWise simulator serves over real HTTP: a
uvicorn server (its own process, on a free port) holding 10,000+ invoices, and
one keep-alive client issuing list calls (25 and 1,000 records a page, a
filtered list) and single-record GETs. Each phase is bounded by a request count
and a time limit, so the run stops by itself."""
from __future__ import annotations

import multiprocessing
import socket
import sys
import time

import httpx

PHASE_SECONDS = 4.0
PHASE_MAX_REQUESTS = 4000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int, scale: int) -> None:
    import uvicorn

    from services.sandbox.connectwise.app import create_app
    from services.sandbox.connectwise.state import CwState

    state = CwState.from_seed(7, scale)
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="error", access_log=False)


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the simulator did not start")


def phase(client: httpx.Client, name: str, make_request) -> float:
    count, started = 0, time.monotonic()
    while count < PHASE_MAX_REQUESTS and time.monotonic() - started < PHASE_SECONDS:
        response = make_request(count)
        if response.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {response.status_code} {response.text[:200]}")
        count += 1
    rate = count / (time.monotonic() - started)
    print(f"{name:<44} {rate:8.0f} req/s  ({count} requests)", flush=True)
    return rate


def run() -> int:
    import base64

    from services.common import sandbox_identity as identity

    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(port, 34), daemon=True)
    proc.start()
    try:
        root = f"http://127.0.0.1:{port}"
        wait_ready(f"{root}/healthz")
        token = base64.b64encode(f"{identity.CW_COMPANY}+{identity.CW_PUBLIC_KEY}:{identity.CW_PRIVATE_KEY}".encode())
        headers = {"Authorization": f"Basic {token.decode()}", "clientId": identity.CW_CLIENT_ID}
        with httpx.Client(base_url=identity.cw_base("127.0.0.1", port), headers=headers, timeout=30) as client:
            total = client.get("/finance/invoices/count").json()["count"]
            print(f"ConnectWise simulator, {total} invoices, one keep-alive client", flush=True)
            pages = -(-total // 25)
            phase(client, "list invoices, page of 25 (walking pages)",
                  lambda n: client.get("/finance/invoices", params={"page": n % pages + 1}))
            phase(client, "list invoices, page of 1,000",
                  lambda n: client.get("/finance/invoices", params={"page": n % 10 + 1, "pageSize": 1000}))
            phase(client, "list invoices, conditions on date and type, 25",
                  lambda n: client.get("/finance/invoices", params={
                      "conditions": f'lastUpdated > [2026-09-01T00:00:00Z] and type = "Standard" and id > {n}'}))
            phase(client, "get one invoice by id",
                  lambda n: client.get(f"/finance/invoices/{1001 + n % total}"))
            phase(client, "products of one invoice (conditions invoice/id)",
                  lambda n: client.get("/procurement/products", params={"conditions": f"invoice/id={1001 + n % total}"}))
    finally:
        proc.terminate()
        proc.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(run())
