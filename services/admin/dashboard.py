"""The dashboard: one static page that reads the admin API with the operator's token.

The page itself holds no data, so it is served without auth; every figure on it
comes from an authenticated API call.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).parent / "static" / "dashboard.html"


def dashboard_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text())

    return router
