"""The operator's console: server-rendered pages (Jinja2) made live with htmx, served by
the admin service at `/`, beside the JSON API it shares its read models and actions with.
Everything it needs is served from here (static/): it works offline, no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...common.database import Database
from ...common.sign_in_limit import FailedSignIns
from ..overview_query import open_exception_count
from .context import Console
from .gate import Gate
from .rendering import Renderer
from .session import Authenticator, Sessions

STATIC = Path(__file__).parent.parent / "static"


def _page_modules():
    # Imported here: each page module imports the Console it is given, not the other way round.
    from . import (
        audit,
        books,
        exceptions,
        organisations,
        outbox,
        overview,
        payments,
        records,
        routing,
        settings_page,
        mappings,
    )

    return (
        overview.overview_router,
        records.records_router,
        audit.audit_router,
        exceptions.exceptions_router,
        organisations.organisations_router,
        books.books_router,
        routing.routing_router,
        mappings.mappings_router,
        settings_page.settings_router,
        payments.payments_router,
        outbox.outbox_router,
    )


def build_console(settings, db: Database, authenticate: Authenticator, failures: FailedSignIns, **parts) -> Console:
    def on_every_page(_request: Request) -> dict:
        with db.connection() as conn:
            return {"open_exceptions": open_exception_count(conn)}

    render = Renderer(on_every_page)
    from ...common.secrets import secret_key

    gate = Gate(Sessions(db, secret_key(settings)), authenticate, render, failures)
    return Console(settings=settings, db=db, render=render, gate=gate, **parts)


def install_console(app: FastAPI, console: Console) -> None:
    secure = (console.settings.admin_public_url or "").startswith("https://")
    console.gate.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(console.gate.router(secure))
    for make in _page_modules():
        app.include_router(make(console))

    def wants_page(request: Request) -> bool:
        return (
            not request.url.path.startswith(("/api/", "/docs", "/openapi"))
            and not request.headers.get("HX-Request")
            and "text/html" in request.headers.get("accept", "")
        )

    @app.exception_handler(StarletteHTTPException)
    async def html_errors(request: Request, exc: StarletteHTTPException):
        """A person at the console reads an error page; API clients keep their JSON."""
        if not wants_page(request):
            return await http_exception_handler(request, exc)
        return console.render.page(
            request, "error.html", status_code=exc.status_code, status=exc.status_code, message=exc.detail
        )

    @app.exception_handler(RequestValidationError)
    async def html_validation_errors(request: Request, exc: RequestValidationError):
        """A bad value in a console address (/exceptions/abc) names the field, on a page."""
        if not wants_page(request):
            return await request_validation_exception_handler(request, exc)
        err = exc.errors()[0]
        message = f"{err['loc'][-1]}: {err['msg']}" if err.get("loc") else str(err.get("msg"))
        return console.render.page(request, "error.html", status_code=422, status=422, message=message)
