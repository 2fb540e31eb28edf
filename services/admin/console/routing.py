"""Routing: the rules in the order they are tried, a preview ("where would this record
go, and why?"), adding a rule and deleting one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ...mapping import repository as repo
from ...mapping.model import Rule
from ...mapping.routing import RoutingError, route
from ...mapping.rows import RoutingRuleRow
from .context import Console
from .session import Viewer


def first_error(exc: ValidationError) -> str:
    """The first problem of a form, naming its field, as people read it."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "form"
    message = str(err["msg"]).removeprefix("Value error, ")
    return message if message.split(":")[0] == field else f"{field}: {message}"


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
            preview=extra.pop("preview", None),
            form=extra.pop("form", {}),
            **extra,
        )

    @router.get("/routing")
    def routing(request: Request, _viewer: Reader):
        return page(request)

    @router.get("/routing/preview")
    def preview(
        request: Request,
        _viewer: Reader,
        location_id: str = "",
        member: str = "",
        tag_caption: str = "",
        tag_value: str = "",
    ):
        if location_id and not location_id.strip().isdigit():
            return page(
                request,
                422,
                preview={"error": f"location_id: {location_id!r} is not a ConnectWise location id"},
                asked=dict(request.query_params),
            )
        record = {
            "location_id": int(location_id) if location_id.strip() else None,
            "member_identifier": member or None,
            "account_manager_identifier": None,
            "custom_fields": [{"caption": tag_caption, "value": tag_value}] if tag_caption else [],
        }
        with console.db.connection() as conn:
            rules = [
                Rule(r["id"], r["kind"], r["value"], r["organisation_id"], r["priority"], r["caption"])
                for r in repo.list_rules(conn)
            ]
        try:
            chosen = route(record, rules, "this record")
            result = {"organisation_id": chosen.organisation_id, "rule_id": chosen.rule.id, "reason": chosen.reason}
        except RoutingError as exc:
            result = {"organisation_id": None, "rule_id": None, "reason": str(exc)}
        return page(request, preview=result, asked=dict(request.query_params))

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
