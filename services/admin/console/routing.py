"""Routing: the rules in the order they are tried, a preview ("where would invoice 1234
go, and why?", or a record with these fields), adding a rule and deleting one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ...mapping import repository as repo
from ...mapping.model import Rule
from ...mapping.routing import RoutingError, record_facts, route
from ...mapping.rows import RoutingRuleRow
from ..audit_client import AuditUnavailable
from ..records_query import RecordDetail, find_records
from .context import Console
from .rendering import kind_label
from .session import Viewer


def first_error(exc: ValidationError) -> str:
    """The first problem of a form, naming its field, as people read it."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "form"
    message = str(err["msg"]).removeprefix("Value error, ")
    return message if message.split(":")[0] == field else f"{field}: {message}"


def routed(record: dict, rules: list[Rule], label: str) -> dict:
    """Which organisation and rule the rules send `record` to, or why none does."""
    try:
        chosen = route(record, rules, label)
    except RoutingError as exc:
        return {"organisation_id": None, "rule_id": None, "reason": str(exc)}
    return {"organisation_id": chosen.organisation_id, "rule_id": chosen.rule.id, "reason": chosen.reason}


def routing_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Admin = Annotated[
        Viewer, Depends(console.gate.form("admin"))
    ]  # configuration: mappings and routing are the admin's

    def page(request: Request, status_code: int = 200, **extra):
        with console.db.connection() as conn:
            rules = repo.list_rules(conn)
            orgs = repo.list_organisations(conn)
        return console.render.page(
            request,
            "routing.html",
            status_code=status_code,
            rules=rules,
            orgs=orgs,
            org_names={o["id"]: o["name"] for o in orgs},
            preview=extra.pop("preview", None),
            form=extra.pop("form", {}),
            **extra,
        )

    @router.get("/routing")
    def routing(request: Request, _viewer: Reader):
        return page(request)

    def rules_now() -> list[Rule]:
        with console.db.connection() as conn:
            return [
                Rule(r["id"], r["kind"], r["value"], r["organisation_id"], r["priority"], r["caption"])
                for r in repo.list_rules(conn)
            ]

    async def last_reading(record: RecordDetail) -> dict | None:
        """The record as ingest last read it from ConnectWise (its event in the audit log): the
        location, members and custom fields routing looks at are kept nowhere else."""
        filters = {"record_type": record.record_type, "record_id": record.cw_id, "api": "none", "limit": "50"}
        resp = await console.audit.page(filters)
        if resp.status_code != 200:
            raise AuditUnavailable(f"the audit service answered {resp.status_code}")
        read = next((e for e in resp.json().get("entries", []) if e["service"] == "ingest"), None)
        if read is None:
            return None
        entry = await console.audit.entry(read["entry_id"])
        if entry.status_code != 200:
            raise AuditUnavailable(f"the audit service answered {entry.status_code}")
        payload = entry.json()["payload"]  # parsed by the audit service (text when cut for its size)
        return payload if isinstance(payload, dict) else None

    async def record_preview(number: str) -> dict:
        with console.db.connection() as conn:
            found = find_records(conn, number)
        if not found:
            return {"error": f"record: no ConnectWise record is numbered {number!r} or has that id"}
        record = found[0]
        label = f"{kind_label(record.record_type)} {record.number or record.cw_id}"
        try:
            read = await last_reading(record)
        except AuditUnavailable as exc:
            return {
                "error": f"record: {label} was found, but not what it carries: {exc}",
                "record": record,
                "label": label,
            }
        if read is None:
            return {
                "error": f"record: the audit log keeps no reading of {label} (it is kept for its retention"
                " only); give its location, staff member or custom field instead",
                "record": record,
                "label": label,
            }
        facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record_facts(read).items()) or "no routing field"
        return {**routed(read, rules_now(), label), "record": record, "label": label, "facts": facts}

    @router.get("/routing/preview")
    async def preview(
        request: Request,
        _viewer: Reader,
        record: str = "",
        location_id: str = "",
        member: str = "",
        tag_caption: str = "",
        tag_value: str = "",
    ):
        asked = dict(request.query_params)
        if record.strip():
            result = await record_preview(record.strip())
            return page(request, 404 if "record" not in result else 200, preview=result, asked=asked)
        if location_id and not location_id.strip().isdigit():
            return page(
                request,
                422,
                preview={"error": f"location_id: {location_id!r} is not a ConnectWise location id"},
                asked=asked,
            )
        facts = {
            "location_id": int(location_id) if location_id.strip() else None,
            "member_identifier": member or None,
            "account_manager_identifier": None,
            "custom_fields": [{"caption": tag_caption, "value": tag_value}] if tag_caption else [],
        }
        return page(request, preview=routed(facts, rules_now(), "this record"), asked=asked)

    @router.post("/routing/rules")
    async def add_rule(request: Request, viewer: Admin):
        form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
        try:
            row = RoutingRuleRow(
                kind=form.get("kind", ""),
                organisation_id=form.get("organisation_id", ""),
                value=form.get("value", ""),
                caption=form.get("caption", ""),
                priority=int(form["priority"]) if form.get("priority") else None,
            )
            with console.db.unit_of_work() as conn:
                repo.create_rule(conn, row, viewer.name)
        except ValueError as exc:  # pydantic's ValidationError is one
            message = first_error(exc) if isinstance(exc, ValidationError) else f"priority: {exc}"
            return page(request, 422, error=message, form=form)
        except (repo.Invalid, repo.Conflict, repo.NotFound) as exc:
            return page(request, 422, error=str(exc), form=form)
        console.config_changed()
        return RedirectResponse("/routing", status_code=303)

    @router.post("/routing/rules/{rule_id}/delete")
    def delete_rule(request: Request, rule_id: int, viewer: Admin):
        try:
            with console.db.unit_of_work() as conn:
                repo.delete_rule(conn, rule_id, viewer.name)
        except repo.NotFound as exc:
            return page(request, 404, error=str(exc))
        console.config_changed()
        return RedirectResponse("/routing", status_code=303)

    return router
