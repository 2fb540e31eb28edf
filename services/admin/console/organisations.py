"""Organisations: each with its status, granted scopes and roll-up; Connect to Xero (OAuth
with PKCE, then pick the tenants to add), reconnect, disconnect, refresh the catalog."""

import re
import secrets
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from ...integrations.xero.auth import CredentialError
from ...mapping import catalog as catalog_store
from ...mapping import repository as repo
from ...mapping.rollup import rollup
from ..exceptions_query import open_by_organisation
from .context import Console
from .session import Viewer
from .xero_oauth import (
    FLOW_COOKIE,
    GRANT_COOKIE,
    ConnectError,
    authorize_url,
    exchange_code,
    list_connections,
    pkce_pair,
    seal,
    suggested_id,
    unseal,
)

ORG_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # as the organisations table requires
NOTICES = {
    "connected": "Connected. Its catalog was loaded from Xero; records go there from the next cycle.",
    "disconnected": "Disconnected: nothing is written to it until it is connected again.",
    "refreshed": "Catalog refreshed from Xero.",
}


def organisations_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Admin = Annotated[Viewer, Depends(console.gate.form("admin"))]
    settings, box = console.settings, console.box
    secure = (settings.admin_public_url or "").startswith("https://")

    def keep_for_the_flow(response, cookie: str, sealed: str) -> None:
        """A sealed step of the Connect flow: ten minutes, for /xero only, out of scripts' reach."""
        response.set_cookie(cookie, sealed, max_age=600, httponly=True, samesite="lax", secure=secure, path="/xero")

    def xero_client() -> httpx.Client:
        recorder = console.exchange_recorder()
        return httpx.Client(timeout=30, event_hooks=recorder.hooks() if recorder else None)

    def refresh(org_id: str, tenant_id: str, actor: str) -> dict:
        return catalog_store.refresh_from_xero(
            settings, settings.postgres_url, org_id, tenant_id, actor, console.exchange_recorder()
        )

    @router.get("/organisations")
    def organisations(request: Request, _viewer: Reader, notice: str = ""):
        with console.db.connection() as conn:
            orgs = repo.list_organisations(conn)
            rollups = {o["id"]: rollup(conn, o["id"], settings.xero_limit_per_day) for o in orgs}
            open_by_org = open_by_organisation(conn)
        return console.render.page(
            request,
            "organisations.html",
            orgs=orgs,
            rollups=rollups,
            open_by_org=open_by_org,
            flash=NOTICES.get(notice),
            can_connect=bool(settings.xero_client_id),
        )

    @router.get("/organisations/{org_id}")
    def organisation(request: Request, org_id: str, _viewer: Reader, notice: str = ""):
        with console.db.connection() as conn:
            try:
                org = repo._public(repo.get_organisation(conn, org_id))
            except repo.NotFound:
                raise HTTPException(404, f"organisation: there is no organisation {org_id!r}") from None
            summary = rollup(conn, org_id, settings.xero_limit_per_day)
            catalog = catalog_store.read_catalog(conn, org_id)
            org_open = open_by_organisation(conn).get(org_id, 0)
        return console.render.page(
            request,
            "organisation.html",
            org=org,
            rollup=summary,
            org_open=org_open,
            flash=NOTICES.get(notice),
            catalog={k: len(v) for k, v in catalog.items() if isinstance(v, list)},
        )

    @router.post("/xero/connect")
    def connect(viewer: Admin):
        """Off to Xero's consent screen, with a fresh state and PKCE verifier kept in a sealed cookie."""
        if not settings.xero_client_id or not settings.xero_token_url:
            raise HTTPException(503, "xero_client_id: this installation has no Xero app configured (CZ_XERO_CLIENT_ID)")
        state, (verifier, challenge) = secrets.token_urlsafe(24), pkce_pair()
        response = RedirectResponse(authorize_url(settings, state, challenge), status_code=303)
        keep_for_the_flow(response, FLOW_COOKIE, seal(box, viewer.session_id, state=state, verifier=verifier))
        return response

    @router.get("/xero/callback")
    def callback(request: Request, viewer: Reader, code: str = "", state: str = "", error: str = ""):
        try:
            flow = unseal(box, viewer.session_id, request.cookies.get(FLOW_COOKIE))
            if error:
                raise ConnectError(f"Xero answered {error!r}: nothing was connected")
            if not state or not secrets.compare_digest(state, flow["state"]):
                raise ConnectError("state: the answer from Xero does not belong to this connection; start again")
            if not code:
                raise ConnectError("code: Xero sent no authorisation code; start again")
            with xero_client() as client:
                tokens = exchange_code(settings, code, flow["verifier"], client)
                connections = list_connections(settings, tokens["access_token"], client)
        except ConnectError as exc:
            return console.render.page(request, "xero_connect.html", status_code=400, error=str(exc), choices=[])
        with console.db.connection() as conn:
            known = {o["tenant_id"]: o for o in repo.list_organisations(conn)}
        taken = {o["id"] for o in known.values()}
        choices = []
        for c in connections:
            org = known.get(c.tenant_id)
            slug = org["id"] if org else suggested_id(c.tenant_name, taken)
            taken.add(slug)
            choices.append({"tenant_id": c.tenant_id, "name": c.tenant_name, "id": slug, "existing": org})
        response = console.render.page(
            request, "xero_connect.html", choices=choices, error=None, scopes=tokens.get("scope", "")
        )
        response.delete_cookie(FLOW_COOKIE, path="/xero")
        grant = seal(
            box,
            viewer.session_id,
            refresh_token=tokens["refresh_token"],
            scope=tokens.get("scope", ""),
            tenants={c.tenant_id: c.tenant_name for c in connections},
        )
        keep_for_the_flow(response, GRANT_COOKIE, grant)
        return response

    @router.post("/xero/connections")
    async def add_connections(request: Request, viewer: Admin):
        form = await request.form()
        try:
            grant = unseal(box, viewer.session_id, request.cookies.get(GRANT_COOKIE))
        except ConnectError as exc:
            return console.render.page(request, "xero_connect.html", status_code=400, error=str(exc), choices=[])
        chosen = [t for t in form.getlist("tenant") if isinstance(t, str) and t in grant["tenants"]]
        if not chosen:
            return console.render.page(
                request,
                "xero_connect.html",
                status_code=422,
                choices=[],
                error="tenant: tick at least one organisation to add (or start again)",
            )
        added, problems = [], []
        for tenant_id in chosen:
            org_id = str(form.get(f"id_{tenant_id}", "")).strip()
            if not ORG_ID.fullmatch(org_id):
                problems.append(
                    f"id: {org_id!r} for {grant['tenants'][tenant_id]} must be lower-case letters, digits,"
                    " - or _ (e.g. adelaide)"
                )
                continue
            try:
                with console.db.unit_of_work() as conn:
                    existing = next((o for o in repo.list_organisations(conn) if o["tenant_id"] == tenant_id), None)
                    values = {"refresh_token": grant["refresh_token"], "scopes": grant["scope"], "status": "connected"}
                    if existing:
                        repo.update_organisation(conn, existing["id"], values, box, viewer.name)
                        org_id = existing["id"]
                    else:
                        repo.create_organisation(
                            conn,
                            {"id": org_id, "name": grant["tenants"][tenant_id], "tenant_id": tenant_id, **values},
                            box,
                            viewer.name,
                        )
                console.config_changed()
                added.append((org_id, tenant_id))
            except (repo.Conflict, repo.Invalid) as exc:
                problems.append(f"{grant['tenants'][tenant_id]}: {exc}")
        for org_id, tenant_id in added:  # an organisation is only useful with its catalog: load it now
            try:
                refresh(org_id, tenant_id, viewer.name)
                console.config_changed()
            except (CredentialError, httpx.HTTPError) as exc:
                problems.append(f"{org_id}: connected, but its catalog could not be loaded ({exc}); refresh it later")
        if problems:
            return console.render.page(
                request,
                "xero_connect.html",
                status_code=207 if added else 422,
                choices=[],
                error="; ".join(problems),
                added=[a for a, _ in added],
            )
        response = RedirectResponse("/organisations?notice=connected", status_code=303)
        response.delete_cookie(GRANT_COOKIE, path="/xero")
        return response

    @router.post("/organisations/{org_id}/disconnect")
    def disconnect(org_id: str, viewer: Admin):
        with console.db.unit_of_work() as conn:
            try:
                repo.disconnect_organisation(conn, org_id, viewer.name)
            except repo.NotFound:
                raise HTTPException(404, f"organisation: there is no organisation {org_id!r}") from None
        console.config_changed()
        return RedirectResponse(f"/organisations/{org_id}?notice=disconnected", status_code=303)

    @router.post("/organisations/{org_id}/refresh-catalog")
    def refresh_catalog(
        request: Request, org_id: str, viewer: Annotated[Viewer, Depends(console.gate.form("operator"))]
    ):
        with console.db.connection() as conn:
            try:
                org = repo.get_organisation(conn, org_id)
            except repo.NotFound:
                raise HTTPException(404, f"organisation: there is no organisation {org_id!r}") from None
        try:
            refresh(org_id, org["tenant_id"], viewer.name)
        except CredentialError as exc:
            raise HTTPException(409, str(exc)) from None
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"Xero could not be read: {exc}") from None
        console.config_changed()
        return RedirectResponse(f"/organisations/{org_id}?notice=refreshed", status_code=303)

    return router
