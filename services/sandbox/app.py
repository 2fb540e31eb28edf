"""The sandbox process: the ConnectWise and Xero simulators over one synthetic
MSP and one clock, each on its own port (two uvicorn servers in one asyncio
loop), control routes on both, and the mutators on a timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from typing import Any, Awaitable, Callable, Iterator

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from .faults import Faults
from .seed import generate
from .xero.app import create_app as create_xero_app
from .xero.control import shared_control_router
from .xero.payments_mutator import PaymentsMutator
from .xero.ratelimit import Limits
from .xero.state import Clock, build_state

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn would take over SIGTERM/SIGINT (and re-raise them on exit); the
    sandbox handles signals itself and stops both servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _cw_parts(msp: Any, clock: Clock, faults: Faults) -> tuple[Any, FastAPI]:
    from .connectwise.app import create_app as create_cw_app
    from .connectwise.state import CwState

    state = CwState(msp, clock=clock.now)
    return state, create_cw_app(state, faults)


class Sandbox:
    def __init__(
        self,
        seed: int,
        scale: int,
        *,
        host: str = "127.0.0.1",
        cw_port: int = 8201,
        xero_port: int = 8202,
        mutate_seconds: float = 20.0,
        limits: Limits | None = None,
    ) -> None:
        self.host, self.cw_port, self.xero_port = host, cw_port, xero_port
        self.mutate_seconds = mutate_seconds
        self.clock = Clock()
        self.msp = generate(seed, scale)
        self.xero_state = build_state(self.msp, self.clock)
        self.xero_faults, self.cw_faults = Faults(), Faults()
        self.xero_app = create_xero_app(
            self.xero_state, self.xero_faults, limits=limits, webhook_base_url=f"http://{host}:{xero_port}"
        )
        self.xero = self.xero_app.state.xero
        self.cw_state, self.cw_app = _cw_parts(self.msp, self.clock, self.cw_faults)
        self.cw_rng = random.Random(seed)
        self.payments = PaymentsMutator(self.xero_state, self.msp.xero_payments, seed)
        _add_cw_control(self)
        self.stop_event: asyncio.Event | None = None

    def mutate_once(self) -> dict[str, Any]:
        from .connectwise.mutator import mutate_once as cw_mutate_once

        cw_done = cw_mutate_once(self.cw_state, self.cw_rng)
        return {"xeroPayments": self.payments.tick(), "connectwise": cw_done}

    async def _mutate_forever(self) -> None:
        while True:
            await asyncio.sleep(self.mutate_seconds)
            try:
                await asyncio.to_thread(self.mutate_once)
            except Exception:  # a failing edit must not stop the simulators
                log.exception("sandbox mutator failed")

    def _bind(self, port: int, label: str) -> socket.socket:
        """Bind before serving so a taken port is a clear error, not a traceback."""
        # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets whose
        # proto says TCP, and a 0 here costs ~40 ms per small response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            raise OSError(f"{label} simulator: cannot listen on {self.host}:{port} ({exc.strerror})") from None
        sock.set_inheritable(True)
        return sock

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve both simulators until `stop` is set, then shut both down."""
        self.stop_event = stop
        sockets = [self._bind(self.cw_port, "ConnectWise")]
        try:
            sockets.append(self._bind(self.xero_port, "Xero"))
        except OSError:
            sockets[0].close()
            raise
        servers = [
            _Server(
                uvicorn.Config(
                    app,
                    host=self.host,
                    port=port,
                    log_level="warning",
                    access_log=False,
                    lifespan="auto",
                    timeout_graceful_shutdown=3,
                )
            )
            for app, port in ((self.cw_app, self.cw_port), (self.xero_app, self.xero_port))
        ]
        tasks = [
            asyncio.create_task(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets, strict=True)
        ]
        mutator = asyncio.create_task(self._mutate_forever()) if self.mutate_seconds > 0 else None
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        if mutator:
            mutator.cancel()
        waiter.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.xero.webhooks.stop()
        for sock in sockets:
            sock.close()


def _add_cw_control(sandbox: Sandbox) -> None:
    """Control routes on the ConnectWise port too: faults there act on the
    ConnectWise simulator; clock, limits and tokens are shared with Xero's."""
    existing = {(getattr(r, "path", ""), m) for r in sandbox.cw_app.routes for m in getattr(r, "methods", None) or ()}
    api = APIRouter(prefix="/_sandbox")

    async def faults(request: Request) -> JSONResponse:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("body: must be a JSON object")
            if data.pop("clear", False):
                sandbox.cw_faults.clear()
            sandbox.cw_faults.update(**data)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": sandbox.cw_faults.as_dict()})

    async def state() -> JSONResponse:
        return JSONResponse(
            {
                "now": sandbox.clock.now().isoformat(),
                "faults": sandbox.cw_faults.as_dict(),
                "xero": sandbox.xero_state.summary(),
                "connectwise": {name: len(rows) for name, rows in sandbox.cw_state.c.items()},
            }
        )

    async def mutate() -> JSONResponse:
        done = await asyncio.to_thread(sandbox.mutate_once)
        return JSONResponse(_jsonable(done))

    async def payment_plans() -> JSONResponse:
        """The seed's planned Xero payments whose invoices Xero now holds, and nothing else."""
        done = await asyncio.to_thread(sandbox.payments.tick, True)
        return JSONResponse(_jsonable(done))

    routes: dict[str, tuple[Callable[..., Awaitable[JSONResponse]], list[str]]] = {
        "/_sandbox/faults": (faults, ["POST"]),
        "/_sandbox/state": (state, ["GET"]),
        "/_sandbox/mutate": (mutate, ["POST"]),
        "/_sandbox/payment-plans": (payment_plans, ["POST"]),
    }
    for path, (endpoint, methods) in routes.items():
        if (path, methods[0]) not in existing:
            api.add_api_route(path.removeprefix("/_sandbox"), endpoint, methods=methods)
    sandbox.cw_app.include_router(api)
    sandbox.cw_app.include_router(shared_control_router(sandbox.xero))
    if ("/healthz", "GET") not in existing:
        sandbox.cw_app.add_api_route("/healthz", lambda: {"status": "ok", "service": "sandbox-connectwise"})

    @sandbox.xero_app.post("/_sandbox/mutate")
    async def xero_mutate() -> JSONResponse:
        return await mutate()


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
