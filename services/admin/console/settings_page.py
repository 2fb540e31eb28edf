"""Settings: per record type the cadence, DRAFT or AUTHORISED, and the alert mode; the
bank account each organisation's payments go into; and the installation's settings
that live in its environment (digest hour, recipients, audit retention), shown with
the variable that sets them."""

import json
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ...common import alert_settings
from ...common.record_kinds import RECORD_TYPES
from ...mapping import catalog as catalog_store
from ...mapping import repository as repo
from ..routes_audit_settings import Refused
from ..routes_config import SettingsIn, change_alert_settings
from .context import Console
from .rendering import viewer_zone
from .routing import first_error
from .session import Viewer


def _refusal(exc: Refused | HTTPException) -> str:
    """What the audit service said, for the person at the console."""
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    body = bytes(exc.response.body).decode(errors="replace")
    try:
        detail = json.loads(body).get("detail", body)
    except ValueError:
        detail = body
    return f"the audit service refused: {detail}"


def local_hour(request: Request, hour_utc: int) -> str:
    """Today's hour_utc:00 UTC on the viewer's clock."""
    moment = datetime.now(timezone.utc).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return moment.astimezone(viewer_zone(request)).strftime("%H:%M")


def settings_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Admin = Annotated[Viewer, Depends(console.gate.form("admin"))]

    def page(request: Request, status_code: int = 200, **extra):
        with console.db.connection() as conn:
            per_type = [repo.get_settings(conn, t) for t in RECORD_TYPES]
            orgs = repo.list_organisations(conn)
            banks = {
                o["id"]: [
                    a
                    for a in catalog_store.read_catalog(conn, o["id"])["accounts"]
                    if a["payments_enabled"] and a["status"] == "ACTIVE"
                ]
                for o in orgs
            }
            alerts = alert_settings.effective(conn, console.settings)
        s = console.settings
        environment = [
            ("Alert sender", s.alert_email_from, "CZ_ALERT_EMAIL_FROM"),
            (
                "Digest hour and recipients until set here",
                f"{s.alert_digest_hour_utc}:00 UTC, {s.alert_email_to}",
                "CZ_ALERT_DIGEST_HOUR_UTC, CZ_ALERT_EMAIL_TO",
            ),
        ]
        try:
            retention, retention_error = console.audit_settings.get(), None
        except (Refused, HTTPException) as exc:
            retention, retention_error = None, _refusal(exc)
        return console.render.page(
            request,
            "settings.html",
            status_code=status_code,
            per_type=per_type,
            orgs=orgs,
            banks=banks,
            environment=environment,
            retention=retention,
            alerts=alerts,
            tz_hour=lambda hour: local_hour(request, hour),
            retention_error=retention_error,
            **extra,
        )

    @router.get("/settings")
    def settings(request: Request, _viewer: Reader, saved: str = ""):
        return page(request, flash="Saved: it applies from the next cycle." if saved else None)

    @router.post("/settings/record-types/{record_type}")
    async def save_record_type(request: Request, record_type: str, viewer: Admin):
        form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
        if record_type not in RECORD_TYPES:
            return page(request, 404, error=f"record_type: {record_type!r} is not one of {', '.join(RECORD_TYPES)}")
        try:
            minutes = form.get("cadence_minutes", "")
            values = SettingsIn(
                cadence_minutes=int(minutes) if minutes.isdigit() else minutes or None,
                create_status=form.get("create_status") or None,
                alert_mode=form.get("alert_mode") or None,
            )
        except ValidationError as exc:
            return page(request, 422, error=f"{record_type} {first_error(exc)}")
        with console.db.unit_of_work() as conn:
            repo.put_settings(conn, record_type, values.model_dump(exclude_none=True), viewer.name)
        console.config_changed()
        return RedirectResponse("/settings?saved=1", status_code=303)

    @router.post("/settings/alerts")
    async def save_alerts(request: Request, viewer: Admin):
        form = await request.form()
        hour = str(form.get("digest_hour_utc", "")).strip()
        try:
            if not hour.isdigit():
                raise ValueError(f"digest_hour_utc: {hour!r} is not an hour from 0 to 23")
            recipients = alert_settings.parse_recipients(str(form.get("recipients", "")))
            with console.db.unit_of_work() as conn:
                change_alert_settings(
                    conn, console.settings, alert_settings.check_hour(int(hour)), recipients, viewer.name
                )
        except ValueError as exc:
            return page(request, 422, error=str(exc))
        console.config_changed()
        return RedirectResponse("/settings?saved=1#alerts", status_code=303)

    @router.post("/settings/audit-retention")
    async def save_retention(request: Request, viewer: Admin):
        text = str((await request.form()).get("retention_days", "")).strip()
        if not text.isdigit() or not 30 <= int(text) <= 365:
            return page(request, 422, error=f"retention_days: {text!r} is not a number of days from 30 to 365")
        try:
            console.audit_settings.put(int(text), viewer.name)
        except (Refused, HTTPException) as exc:
            return page(request, 502, error=_refusal(exc))
        return RedirectResponse("/settings?saved=1#audit-retention", status_code=303)

    @router.post("/settings/payment-accounts/{org_id}")
    async def save_payment_account(request: Request, org_id: str, viewer: Admin):
        code = str((await request.form()).get("payment_account_code", "")).strip()
        if not code:
            return page(request, 422, error="payment_account_code: choose a bank account")
        try:
            with console.db.unit_of_work() as conn:
                repo.update_organisation(conn, org_id, {"payment_account_code": code}, console.box, viewer.name)
        except repo.Invalid as exc:
            return page(request, 422, error=str(exc))
        except repo.NotFound as exc:
            return page(request, 404, error=f"organisation: {exc}")
        console.config_changed()
        return RedirectResponse("/settings?saved=1#payment-accounts", status_code=303)

    return router
