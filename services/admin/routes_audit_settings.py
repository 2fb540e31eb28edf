"""The audit log's settings in the admin API: `GET/PUT /api/settings/audit` (retention in days).

The audit service owns the audit store (chdb opens in one process only) and applies the
retention at once; this route checks the value, passes it on and records the change in the
configuration history, in one transaction that the audit service's refusal rolls back.
"""

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..common.database import Database
from ..common.http_app import Principal, Responses, UserAuth, error, api_router
from ..common.secrets import admin_token
from ..common.settings import Settings
from ..mapping.history import record_change
from .audit_client import TIMEOUT, audit_service_url, passthrough


class AuditSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"retention_days": 180}]})
    retention_days: int = Field(
        ge=30,
        le=365,
        description="Days the audit log keeps entries, 30 to 365. Applied at "
        "once: older entries are deleted in the background.",
    )


class AuditSettingsOut(BaseModel):
    retention_days: int = Field(description="Days the audit log keeps entries now.")
    source: str = Field(description="`set` (through this route or the CLI) or `environment` (CZ_AUDIT_RETENTION_DAYS).")
    set_by: str | None = Field(description="Who set it, when set at run time.")
    set_at: str | None = Field(description="When it was set (ISO 8601, UTC), when set at run time.")
    environment_days: int = Field(description="CZ_AUDIT_RETENTION_DAYS: the retention until one is set at run time.")


class Refused(Exception):
    """The audit service refused or could not be reached: its answer, or a 503, goes back as it is."""

    def __init__(self, response: Response):
        self.response = response


class AuditSettings:
    """Reads and sets the audit log's retention through the audit service; the API and the console share it."""

    def __init__(self, settings: Settings, db: Database):
        self.db = db
        self.base = audit_service_url(settings)
        self.upstream = {"Authorization": f"Bearer {admin_token(settings)}"}

    def _call(self, method: str, **kwargs) -> dict:
        try:
            resp = httpx.request(
                method, f"{self.base}/settings/retention", headers=self.upstream, timeout=TIMEOUT, **kwargs
            )
        except httpx.TransportError as exc:
            raise HTTPException(
                503,
                detail=f"the audit service at {self.base} is unreachable ({type(exc).__name__}); "
                "nothing was changed, try again shortly",
            ) from None
        if resp.status_code != 200:
            raise Refused(passthrough(resp))
        return resp.json()

    def get(self) -> dict:
        return self._call("GET")

    def put(self, days: int, actor: str) -> dict:
        before = self._call("GET")
        with self.db.unit_of_work() as conn:  # the history row commits only if the audit service took the change
            if before["retention_days"] != days:
                record_change(
                    conn,
                    "audit_settings",
                    "retention_days",
                    "update",
                    actor,
                    {"retention_days": before["retention_days"]},
                    {"retention_days": days},
                )
            return self._call("PUT", json={"retention_days": days, "set_by": actor})


def audit_settings_router(
    settings: Settings, db: Database, audit_settings: AuditSettings | None = None, auth: UserAuth | None = None
) -> APIRouter:
    from .users import user_auth

    auth = auth or user_auth(settings, db)
    router = api_router(auth, "configuration")
    audit_down: Responses = {503: error("The audit service cannot be reached; nothing was changed, try again shortly")}
    retention = audit_settings or AuditSettings(settings, db)

    @router.get(
        "/settings/audit",
        summary="Audit log settings: retention in days, and who set it when",
        response_model=AuditSettingsOut,
        responses=audit_down,
    )
    def get_audit_settings():
        try:
            return retention.get()
        except Refused as exc:
            return exc.response

    @router.put(
        "/settings/audit",
        response_model=AuditSettingsOut,
        responses=audit_down,
        summary="Set the audit log's retention (30-365 days): applied at once, kept across restarts",
    )
    def put_audit_settings(body: AuditSettingsIn, who: Annotated[Principal, Depends(auth.admin)]):
        try:
            return retention.put(body.retention_days, who.name)
        except Refused as exc:
            return exc.response

    return router
