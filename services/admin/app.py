"""Wiring of the admin API: routers, auth, health."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI

from ..common.database import Database
from ..common.health import HealthChecks
from ..common.http_app import add_health_routes, bearer_auth
from ..common.runtime import standard_checks
from ..common.secrets import admin_token
from ..common.settings import Settings
from .dashboard import dashboard_router
from .routes_audit import audit_router
from .routes_balances import balances_router
from .routes_config import config_router
from .routes_sync import sync_router

DESCRIPTION = """The admin API of Connect Zero: sync control, records, audit log, exceptions,
configuration (organisations, routing rules, mapping tables, settings) and balances.
Every route except `/healthz` and `/metrics` needs `Authorization: Bearer <token>`."""


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.postgres_url, max_size=8)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    app = FastAPI(title="Connect Zero admin API", version="1", description=DESCRIPTION, lifespan=lifespan)
    add_health_routes(app, HealthChecks(standard_checks(settings)))
    api = APIRouter(prefix="/api", dependencies=[Depends(bearer_auth(admin_token(settings)))])

    @api.get("/whoami", summary="Check the token")
    def whoami() -> dict:
        return {"user": "admin"}

    api.include_router(sync_router(settings, db))
    api.include_router(balances_router(db))
    app.include_router(api)
    app.include_router(dashboard_router())
    app.include_router(config_router(settings, db))
    app.include_router(audit_router(settings, db))
    return app
