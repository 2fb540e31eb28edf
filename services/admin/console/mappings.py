"""Mapping tables: each organisation's accounts, tax, tracking and contacts, editable in
place; CSV upload that shows the dry run's row errors before anything applies, and the
CSV download (the same file imports back unchanged)."""

from ...common.http_app import csv_download
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile  # what a parsed form holds (FastAPI's own is a subclass)

from ...mapping import catalog as catalog_store
from ...mapping import csv_io
from ...mapping import repository as repo
from ...mapping.rows import TABLES, check_row
from .context import Console
from .routing import first_error
from .session import Viewer

MAX_UPLOAD = 5 * 1024 * 1024  # a mapping file of every organisation is far smaller


def mappings_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]
    Admin = Annotated[
        Viewer, Depends(console.gate.form("admin"))
    ]  # configuration: mappings and routing are the admin's

    def page(request: Request, table: str, organisation: str, status_code: int = 200, **extra):
        spec = TABLES.get(table) or TABLES["accounts"]
        with console.db.connection() as conn:
            orgs = repo.list_organisations(conn)
            if not organisation and orgs:
                organisation = orgs[0]["id"]
            rows = repo.list_mappings(conn, spec, organisation) if organisation else []
            catalog = catalog_store.read_catalog(conn, organisation) if organisation else {}
        prefill = {k: request.query_params.get(k, "") for k in spec.columns}
        return console.render.page(
            request,
            "mappings.html",
            status_code=status_code,
            spec=spec,
            tables=TABLES,
            orgs=orgs,
            organisation=organisation,
            rows=rows,
            catalog=catalog,
            prefill={**prefill, **extra.pop("prefill", {})},
            **extra,
        )

    def back(table: str, organisation: str, **more) -> RedirectResponse:
        return RedirectResponse(
            f"/mappings?{urlencode({'table': table, 'organisation': organisation, **more})}", status_code=303
        )

    @router.get("/mappings")
    def mappings(request: Request, _viewer: Reader, table: str = "accounts", organisation: str = ""):
        return page(request, table, organisation, flash="Saved." if request.query_params.get("saved") else None)

    @router.post("/mappings/{table}")
    async def save(request: Request, table: str, viewer: Admin):
        form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
        spec = TABLES.get(table)
        organisation = form.get("organisation_id", "")
        if spec is None:
            return page(request, "accounts", organisation, 404, error=f"table: {table!r} is not a mapping table")
        try:
            row = spec.model(**{k: form.get(k, "") for k in spec.columns})
            with console.db.unit_of_work() as conn:
                problem = check_row(spec.name, row, repo.load_known(conn))
                if problem:
                    raise repo.Invalid(*problem)
                repo.put_mapping(conn, spec, row, viewer.name)
        except ValidationError as exc:
            return page(request, table, organisation, 422, error=first_error(exc), prefill=form)
        except (repo.Invalid, repo.Conflict) as exc:
            message = (
                str(exc)
                if str(exc).startswith(getattr(exc, "field", "-"))
                else f"{getattr(exc, 'field', 'row')}: {exc}"
            )
            return page(request, table, organisation, 422, error=message, prefill=form)
        console.config_changed()
        return back(table, organisation, saved="1")

    @router.post("/mappings/{table}/delete")
    async def delete(request: Request, table: str, viewer: Admin):
        form = {k: str(v) for k, v in (await request.form()).items()}
        spec = TABLES.get(table)
        if spec is None:
            return page(request, "accounts", "", 404, error=f"table: {table!r} is not a mapping table")
        try:
            with console.db.unit_of_work() as conn:
                repo.delete_mapping(conn, spec, {k: form.get(k, "") for k in spec.key}, viewer.name)
        except repo.NotFound as exc:
            return page(request, table, form.get("organisation_id", ""), 404, error=str(exc))
        console.config_changed()
        return back(table, form.get("organisation_id", ""))

    @router.post("/mappings-import")
    async def import_csv(request: Request, viewer: Admin):
        """`check` shows every bad row and changes nothing; `apply` applies all rows, or none if any is bad."""
        form = await request.form()
        upload, text = form.get("file"), str(form.get("csv_text") or "")
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(MAX_UPLOAD + 1)
            if len(raw) > MAX_UPLOAD:
                return page(request, "accounts", "", 413, import_error="file: larger than 5 MB")
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                return page(request, "accounts", "", 422, import_error=f"file: not UTF-8 text (byte {exc.start})")
        if not text.strip():
            return page(request, "accounts", "", 422, import_error="file: choose a CSV file to upload")
        apply = form.get("action") == "apply"
        with console.db.connection() as conn:
            parsed, counts, _changes = csv_io.import_csv(conn, text, viewer.name, dry_run=not apply)
        if apply and not parsed.errors:
            console.config_changed()
        result = {
            "applied": apply and not parsed.errors,
            "counts": counts,
            "rows": len(parsed.rows),
            "errors": parsed.errors,
            "text": text,
        }
        return page(request, "accounts", "", 422 if parsed.errors else 200, import_result=result)

    @router.get("/mappings-export.csv")
    def export(_viewer: Reader, organisation: str = "") -> Response:
        with console.db.connection() as conn:
            text = csv_io.export_csv(conn, organisation or None)
        name = f"mappings-{organisation}.csv" if organisation else "mappings.csv"
        return csv_download(text, name)

    return router
