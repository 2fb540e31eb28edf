"""The admin service's client of the audit service: the audit log lives in chdb,
which one process only may open, so the API routes and the console both reach it
over HTTP, here. A CSV export streams straight through."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from ..common.secrets import admin_token
from ..common.settings import Settings

TIMEOUT = httpx.Timeout(60.0)  # a page or an entry; a full-text search over a year stays well inside
EXPORT_TIMEOUT = httpx.Timeout(30.0, read=None)  # an export of a year of entries takes as long as it takes


class AuditUnavailable(Exception):
    """The audit service could not be reached; the message says where and suggests waiting."""


def audit_service_url(settings: Settings) -> str:
    return (settings.audit_url or f"http://{settings.host}:{settings.audit_port}").rstrip("/")


class AuditClient:
    def __init__(self, settings: Settings):
        self.base = audit_service_url(settings)
        self.headers = {"Authorization": f"Bearer {admin_token(settings)}"}

    def _unavailable(self, exc: Exception) -> AuditUnavailable:
        return AuditUnavailable(
            f"the audit service at {self.base} is unreachable ({type(exc).__name__}); try again shortly"
        )

    async def get(self, path: str, params: dict | None = None) -> httpx.Response:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            try:
                return await client.get(f"{self.base}{path}", params=params, headers=self.headers)
            except httpx.TransportError as exc:
                raise self._unavailable(exc) from None

    async def page(self, filters: dict) -> httpx.Response:
        return await self.get("/audit", filters)

    async def entry(self, entry_id: str) -> httpx.Response:
        return await self.get(f"/audit/{quote(entry_id, safe='')}")

    async def csv(self, filters: dict, filename: str | None = None) -> Response:
        """The export of `filters`, streamed; an error answer is passed through as it came."""
        client = httpx.AsyncClient(timeout=EXPORT_TIMEOUT)
        try:
            resp = await client.send(
                client.build_request("GET", f"{self.base}/audit.csv", params=filters, headers=self.headers), stream=True
            )
        except httpx.TransportError as exc:
            await client.aclose()
            raise self._unavailable(exc) from None
        if resp.status_code != 200:
            await resp.aread()
            await resp.aclose()
            await client.aclose()
            return passthrough(resp)

        async def close() -> None:
            await resp.aclose()
            await client.aclose()

        headers = {k: v for k, v in resp.headers.items() if k.lower() == "content-disposition"}
        if filename:
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return StreamingResponse(
            resp.aiter_raw(),
            media_type=resp.headers.get("content-type", "text/csv"),
            headers=headers,
            background=BackgroundTask(close),
        )


def passthrough(resp: httpx.Response) -> Response:
    return Response(resp.content, status_code=resp.status_code, media_type=resp.headers.get("content-type"))
