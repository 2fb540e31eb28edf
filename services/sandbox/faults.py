"""Fault injection shared by both simulators: added latency, a share of 5xx
answers, 429 storms and dropped connections, switchable at run time.

`Faults` is a plain mutable object: a control endpoint (or a test) changes its
fields while the server runs and the next request sees the change. The
middleware is plain ASGI so it wraps any app (FastAPI, Starlette, raw ASGI).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Builds the (content-type, body) of an injected error, so each simulator can
# answer in its own API's error shape.
ErrorBody = Callable[[int], tuple[str, bytes]]


@dataclass
class Faults:
    """What to inject. All off by default.

    latency_ms: added to every request before it is served.
    error_rate: share (0..1) of requests answered with a 5xx instead.
    storm_429: True answers every request 429 until switched off; an int n > 0
        answers the next n requests 429 (counting down to 0).
    drop_connection_rate: share (0..1) of requests whose connection is cut
        after the status line, with no complete body.
    retry_after_seconds: the Retry-After value sent with an injected 429.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    storm_429: bool | int = 0
    drop_connection_rate: float = 0.0
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms: must be 0 or more")
        for name in ("error_rate", "drop_connection_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: must be between 0 and 1, got {value}")
        if self.storm_429 is not True and self.storm_429 is not False and self.storm_429 < 0:
            raise ValueError("storm_429: must be true, false or a count of 0 or more")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds: must be 0 or more")

    def update(self, **changes: Any) -> None:
        """Apply a partial change (from a control endpoint); unknown names are refused
        and nothing changes if any value is invalid."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown fault setting")
        candidate = Faults(**{**asdict(self), **changes})
        for name in known:
            setattr(self, name, getattr(candidate, name))

    def clear(self) -> None:
        self.update(**asdict(Faults()))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def take_429(self) -> bool:
        """True when this request falls in a 429 storm (and counts it down)."""
        if self.storm_429 is True:
            return True
        if self.storm_429 is False or self.storm_429 <= 0:
            return False
        self.storm_429 -= 1
        return True


def _default_error_body(status: int) -> tuple[str, bytes]:
    message = "Too Many Requests" if status == 429 else "Simulated server fault"
    return "application/json", json.dumps({"code": str(status), "message": message}).encode()


class FaultMiddleware:
    """ASGI middleware applying `faults` to HTTP requests whose path does not
    start with one of `exempt_prefixes` (health and control routes stay
    reachable while a storm is on)."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        rng: random.Random | None = None,
        *,
        error_body: ErrorBody = _default_error_body,
        exempt_prefixes: tuple[str, ...] = ("/healthz", "/metrics", "/_sandbox"),
        error_statuses: tuple[int, ...] = (500, 502, 503),
    ) -> None:
        self.app = app
        self.faults = faults
        self.rng = rng or random.Random()
        self.error_body = error_body
        self.exempt_prefixes = exempt_prefixes
        self.error_statuses = error_statuses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.take_429():
            await self._answer(send, 429, [(b"retry-after", str(faults.retry_after_seconds).encode())])
            return
        if faults.error_rate and self.rng.random() < faults.error_rate:
            await self._answer(send, self.rng.choice(self.error_statuses), [])
            return
        if faults.drop_connection_rate and self.rng.random() < faults.drop_connection_rate:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial', "more_body": True})
            # Returning with the response unfinished makes the server close the socket
            # (uvicorn logs one line); the client sees a cut connection, as when a proxy drops it.
            return
        await self.app(scope, receive, send)

    async def _answer(self, send: Send, status: int, extra: list[tuple[bytes, bytes]]) -> None:
        content_type, body = self.error_body(status)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers + extra})
        await send({"type": "http.response.body", "body": body})
