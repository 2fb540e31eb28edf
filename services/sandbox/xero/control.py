"""/_sandbox control routes of the Xero simulator, switchable while it runs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError("body: must be a JSON object")
    return data


def named_organisation(state: Any, data: dict[str, Any]) -> Any:
    """The organisation a control request names by its short name (`organisation`); ValueError otherwise."""
    by_short = {o.short: o for o in state.organisations.values()}
    org = by_short.get(str(data.get("organisation") or ""))
    if org is None:
        raise ValueError(f"organisation: one of {', '.join(sorted(by_short))}")
    return org


def shared_control_router(runtime: Any) -> APIRouter:
    """Clock, limits and refresh-token revocation: the sandbox mounts these on
    the ConnectWise port too, acting on the same objects."""
    api = APIRouter(prefix="/_sandbox")
    state = runtime.state

    @api.post("/clock")
    async def clock(request: Request) -> JSONResponse:
        """{"advance_seconds": n} moves the sandbox clock on; {"offset_seconds": n} sets it."""
        try:
            data = await body(request)
            if "advance_seconds" in data:
                state.clock.advance(float(data["advance_seconds"]))
            elif "offset_seconds" in data:
                state.clock.set_offset(float(data["offset_seconds"]))
            else:
                raise ValueError("advance_seconds or offset_seconds: one is required")
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return JSONResponse({"now": state.clock.now().isoformat(), "offsetSeconds": state.clock.offset.total_seconds()})

    @api.post("/limits")
    async def limits(request: Request) -> JSONResponse:
        try:
            data = await body(request)
            processing = data.pop("processing_ms", None)
            if processing is not None and (not isinstance(processing, int) or processing < 0):
                raise ValueError("processing_ms: must be a whole number of 0 or more")
            if data.pop("reset", False):
                runtime.limiter.reset()
            runtime.limiter.limits.update(**data)
            if processing is not None:
                runtime.processing_ms = processing
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return JSONResponse({"limits": runtime.limiter.limits.as_dict(), "processingMs": runtime.processing_ms})

    @api.post("/revoke-refresh-token")
    async def revoke() -> JSONResponse:
        return JSONResponse({"revoked": runtime.tokens.revoke_refresh_tokens()})

    return api


def control_router(runtime: Any) -> APIRouter:
    api = APIRouter(prefix="/_sandbox")
    state = runtime.state

    @api.get("/state")
    async def summary() -> dict:
        return {
            **state.summary(),
            "faults": runtime.faults.as_dict(),
            "limits": runtime.limiter.limits.as_dict(),
            "processingMs": runtime.processing_ms,
            "webhook": runtime.webhooks.url,
            "webhookDeliveries": runtime.webhooks.delivered[-10:],
            "failNext": dict(state.fail_next),
        }

    @api.post("/faults")
    async def faults(request: Request) -> JSONResponse:
        try:
            data = await body(request)
            if data.pop("clear", False):
                runtime.faults.clear()
            fail = data.pop("fail_validation", None)  # {"invoices": 1} refuses the next invoice element
            if fail is not None:
                if not isinstance(fail, dict) or not all(isinstance(n, int) and n >= 0 for n in fail.values()):
                    raise ValueError("fail_validation: must map a collection to a count")
                unknown = sorted(set(fail) - {"invoices", "credit_notes"})
                if unknown:
                    raise ValueError(f"fail_validation: '{unknown[0]}' is not invoices or credit_notes")
                state.fail_next.update(fail)
            runtime.faults.update(**data)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return JSONResponse({"faults": runtime.faults.as_dict(), "failNext": dict(state.fail_next)})

    @api.post("/webhooks")
    async def webhooks(request: Request) -> JSONResponse:
        """{"url": "..."} registers a receiver after the intent-to-receive handshake; {"url": null} stops."""
        try:
            data = await body(request)
        except ValueError as exc:
            return _bad(str(exc))
        url = data.get("url")
        if not url:
            runtime.webhooks.unregister()
            return JSONResponse({"registered": False})
        result = await asyncio.to_thread(runtime.webhooks.register, str(url))
        return JSONResponse(result, status_code=200 if result["registered"] else 400)

    return api
