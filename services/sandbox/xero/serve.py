"""Serving an app on a port in a background thread (tests and the bench
drive the simulator over real HTTP, as the product does)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Iterator

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: Any, port: int | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the base URL while `app` is served; stops the server on exit."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(base_url: str) -> dict[str, Any]:
    """Tokens for all organisations through the documented bootstrap: a code
    from /_sandbox/authorize exchanged at /connect/token."""
    import httpx

    from ...common.sandbox_identity import XERO_CLIENT_ID, XERO_CLIENT_SECRET

    code = httpx.get(f"{base_url}/_sandbox/authorize").json()["code"]
    response = httpx.post(
        f"{base_url}/connect/token",
        auth=(XERO_CLIENT_ID, XERO_CLIENT_SECRET),
        data={"grant_type": "authorization_code", "code": code},
    )
    response.raise_for_status()
    return response.json()
