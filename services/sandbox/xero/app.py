"""The Xero simulator as a FastAPI app: identity endpoints, the accounting API
behind bearer-token, tenant and rate-limit checks, and /_sandbox control
routes (faults, clock, limits, revoked refresh tokens, webhooks, state)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..faults import FaultMiddleware, Faults
from . import oauth, routes
from .books import books_control_router
from .control import control_router, shared_control_router
from .history import history_control_router
from .idempotency import IdempotencyStore
from .routes_credits import credit_control_router
from .ratelimit import Limits, RateLimiter
from .state import XeroState
from .webhooks import WebhookSender


@dataclass
class XeroRuntime:
    state: XeroState
    faults: Faults
    limiter: RateLimiter
    tokens: oauth.TokenStore
    idempotency: IdempotencyStore
    webhooks: WebhookSender
    processing_ms: int = 0  # time each API call holds its concurrency slot (to exercise that limit)
    extra: dict[str, Any] = field(default_factory=dict)


def _fault_body(status: int) -> tuple[str, bytes]:
    if status == 429:
        return "application/json", b'{"Title":"Too Many Requests","Status":429,"Detail":"Rate limit exceeded"}'
    return "application/json", json.dumps(
        {"ErrorNumber": 500, "Type": "InternalServerException", "Message": "An error occurred in Xero."}
    ).encode()


def _forbidden() -> JSONResponse:
    return JSONResponse(
        {
            "Type": None,
            "Title": "Forbidden",
            "Status": 403,
            "Detail": "AuthenticationUnsuccessful",
            "Instance": None,
            "Extensions": {},
        },
        status_code=403,
    )


def create_app(
    state: XeroState,
    faults: Faults | None = None,
    *,
    limits: Limits | None = None,
    idempotency_window_seconds: float = 900,
    webhook_base_url: str = "https://api.xero.com",
) -> FastAPI:
    faults = faults or Faults()
    runtime = XeroRuntime(
        state=state,
        faults=faults,
        limiter=RateLimiter(limits or Limits(), state.clock.timestamp),
        tokens=oauth.TokenStore(state.clock),
        idempotency=IdempotencyStore(state.clock.timestamp, idempotency_window_seconds),
        webhooks=WebhookSender(state, webhook_base_url),
    )
    app = FastAPI(title="Xero simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.xero = runtime
    app.include_router(oauth.router(state, runtime.tokens))
    app.include_router(routes.router(runtime))
    app.include_router(control_router(runtime))
    app.include_router(shared_control_router(runtime))
    app.include_router(credit_control_router(runtime))
    app.include_router(books_control_router(runtime))
    app.include_router(history_control_router(runtime))

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "service": "sandbox-xero", "organisations": len(state.organisations)}

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        if not request.url.path.startswith(routes.BASE):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        token, problem = runtime.tokens.check(auth[7:].strip() if auth.lower().startswith("bearer ") else "")
        if token is None:
            return oauth.unauthorized(problem or "AuthenticationUnsuccessful")
        tenant = request.headers.get("xero-tenant-id", "").strip().lower()
        if not tenant and token.custom:
            tenant = token.tenants[0]  # a custom connection may omit the header
        if tenant not in token.tenants or tenant not in state.organisations:
            return _forbidden()
        request.state.tenant = tenant
        decision = runtime.limiter.acquire(tenant)
        if not decision.allowed:
            return Response(b"", status_code=429, headers=decision.headers)
        try:
            if runtime.processing_ms:
                await asyncio.sleep(runtime.processing_ms / 1000)
            response = await call_next(request)
        finally:
            runtime.limiter.release(tenant)
        response.headers.update(decision.headers)
        return response

    app.add_middleware(FaultMiddleware, faults=faults, error_body=_fault_body)
    return app
