"""Wiring of the admin service: the JSON API (bearer token), the operator's console
(signed-in sessions) and health, over one Postgres pool and one of each sender."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from ..common.codec import Codec
from ..common.database import Database
from ..common.health import HealthChecks
from ..common.http_app import add_health_routes
from ..common.runtime import standard_checks
from ..common.secrets import SecretBox, admin_token, secret_key
from ..common.settings import Settings
from ..mapping.changes import ChangePublisher
from .audit_client import AuditClient
from .console import build_console, install_console
from .read_model_metrics import ReadModelMetrics
from .routes_audit import audit_router
from .routes_audit_settings import AuditSettings, audit_settings_router
from .routes_balances import balances_router
from .routes_config import config_router, xero_exchange_recorder
from .routes_real_books import real_books_router
from .routes_sync import CommandSender, sync_router
from .routes_users import users_router
from .users import Users, user_auth

DESCRIPTION = """The admin API of Connect Zero: sync control, records, audit log, exceptions,
configuration (organisations, routing rules, mapping tables, settings), balances, and each
organisation's sync settings and shadow-run report.
Every route except `/healthz` and `/metrics` needs `Authorization: Bearer <token>`: the installation's
admin token, or a user's own token (`POST /api/users`). A user's role decides what it may do: a viewer
reads everything; an operator also force-syncs, runs cycles, replays and resolves exceptions; an admin
also changes organisations, credentials, mappings, settings and users (403 otherwise). Failed sign-ins
are limited per client address (429). The operator's console is served at `/` (sign in with a name and
password, or a token)."""


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.postgres_url, max_size=8)
    sender = CommandSender(settings.kafka_bootstrap, Codec.from_directory())
    publisher = ChangePublisher(settings.kafka_bootstrap)
    recorder = xero_exchange_recorder(settings)
    users = Users(db, admin_token(settings))
    auth = user_auth(settings, db, users)
    metrics = ReadModelMetrics(settings, db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        metrics.register()
        yield
        metrics.unregister()
        db.close()

    app = FastAPI(title="Connect Zero admin API", version="1", description=DESCRIPTION, lifespan=lifespan)
    add_health_routes(app, HealthChecks(standard_checks(settings)))
    app.include_router(users_router(users, auth))
    app.include_router(sync_router(settings, db, sender=sender, auth=auth))
    app.include_router(balances_router(db, auth))
    audit_settings = AuditSettings(settings, db)
    # Before /api/settings/{record_type}, which would match it.
    app.include_router(audit_settings_router(settings, db, audit_settings, auth=auth))
    app.include_router(config_router(settings, db, publisher, recorder, auth=auth))
    app.include_router(real_books_router(settings, db, sender, publisher, auth))
    app.include_router(audit_router(settings, db, auth=auth))
    console = build_console(
        settings,
        db,
        users.sign_in,
        auth.failures,
        sender=sender,
        publisher=publisher,
        box=SecretBox(secret_key(settings)),
        audit=AuditClient(settings),
        exchange_recorder=recorder,
        audit_settings=audit_settings,
    )
    install_console(app, console)
    return app
