"""Wiring of the audit service: the store, the consumer thread and the HTTP API
(search, one entry, CSV export, the retention setting) the admin API proxies to."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..common import secrets
from ..common.health import HealthChecks, kafka_check
from ..common.http_app import add_health_routes, bearer_auth
from ..common.settings import Settings
from .consumer import AuditConsumer
from ..common.audit_query import audit_filters
from .retention import MAX_DAYS, MIN_DAYS, RetentionSetting
from .search import QueryError, parse_query
from .store import AuditStore

log = logging.getLogger(__name__)
Filters = Annotated[dict, Depends(audit_filters)]


def bad_filter(exc: QueryError) -> HTTPException:
    return HTTPException(
        status_code=422, detail=[{"loc": ["query", exc.name], "msg": exc.reason, "type": "value_error"}]
    )


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: int = Field(
        ge=MIN_DAYS, le=MAX_DAYS, description=f"Days to keep entries, {MIN_DAYS} to {MAX_DAYS}."
    )
    set_by: str = Field("admin", min_length=1, max_length=200, description="Who set it (the admin API's user).")


def create_app(
    settings: Settings,
    store: AuditStore,
    consumer: AuditConsumer | None = None,
    retention: RetentionSetting | None = None,
) -> FastAPI:
    retention = retention or RetentionSetting(store, settings.audit_retention_days)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        thread = None
        if consumer is not None:
            thread = threading.Thread(target=consumer.run, args=(stop,), name="audit-consumer", daemon=True)
            thread.start()
        log.info("audit service started")
        yield
        stop.set()
        if thread is not None:
            thread.join(15)
        log.info("audit service stopped")

    app = FastAPI(
        title="Connect Zero audit service",
        version="1",
        lifespan=lifespan,
        description="Every API exchange and every event, searchable and exportable. Bearer auth.",
    )
    checks = {"clickhouse": store.ping}
    if consumer is not None:
        checks["kafka"] = kafka_check(settings.kafka_bootstrap)
        checks["consumer"] = lambda: None if consumer.running else "audit consumer is not running"
    add_health_routes(app, HealthChecks(checks))

    api = APIRouter(dependencies=[Depends(bearer_auth(secrets.admin_token(settings)))], tags=["audit"])

    @api.get("/audit", summary="Audit entries, newest first, one page")
    def search(filters: Filters) -> dict:
        try:
            return store.page(parse_query(filters))
        except QueryError as exc:
            raise bad_filter(exc) from None

    @api.get("/audit.csv", summary="Every entry matching the filters, as CSV", response_class=StreamingResponse)
    def export(filters: Filters) -> StreamingResponse:
        try:
            query = parse_query({k: v for k, v in filters.items() if k not in ("cursor", "limit")})
        except QueryError as exc:
            raise bad_filter(exc) from None
        name = f"audit-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.csv"
        return StreamingResponse(
            store.export_csv(query),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.get("/audit/{entry_id}", summary="One entry in full: request and response, payload")
    def entry(entry_id: str) -> dict:
        found = store.get(entry_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"entry_id: no audit entry {entry_id!r}")
        return found

    @api.get("/settings/retention", summary="How many days entries are kept, and who set it when")
    def get_retention() -> dict:
        return retention.current()

    @api.put("/settings/retention", summary="Keep entries this many days (30-365), from now on; older ones are deleted")
    def put_retention(body: RetentionIn) -> dict:
        return retention.change(body.retention_days, body.set_by)

    app.include_router(api)
    return app
