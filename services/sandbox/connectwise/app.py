"""The ConnectWise Manage simulator as a FastAPI app: `create_app(state, faults)`.

Routes live under /v4_6_release/apis/3.0 and need Basic auth plus `clientId`
(see auth.py); /login/companyinfo/{company}, /healthz and the /_sandbox control
routes (GET/PUT faults) do not, and faults never touch /healthz or /_sandbox.
"""

from __future__ import annotations

import contextlib
import json
import random

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..faults import FaultMiddleware, Faults
from ...common.sandbox_identity import CW_COMPANY
from .auth import CwAuthMiddleware
from .callbacks import CallbackDispatcher
from .errors import CwError, bad_request
from .handlers import JSON, read_body, read_routes, respond
from .routes_procurement import procurement_routes
from .routes_write import write_routes
from .state import CwState

API = "/v4_6_release/apis/3.0"


def cw_error_body(status: int) -> tuple[str, bytes]:
    """Injected faults answer in ConnectWise's error shape."""
    code = "TooManyRequests" if status == 429 else "ServerError"
    message = "Too many requests" if status == 429 else "An unexpected server error occurred"
    return JSON, json.dumps({"code": code, "message": message}).encode()


def create_app(
    state: CwState, faults: Faults | None = None, *, rng: random.Random | None = None, from_url: str = ""
) -> FastAPI:
    faults = faults if faults is not None else Faults()
    dispatcher = CallbackDispatcher(state, from_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        dispatcher.close()

    app = FastAPI(
        title="ConnectWise Manage simulator", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.cw, app.state.faults, app.state.callbacks = state, faults, dispatcher

    @app.exception_handler(CwError)
    async def cw_error(_request: Request, exc: CwError) -> Response:
        return respond(exc.body(), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown routes and methods answer in ConnectWise's error shape too.
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "InvalidObject")
        return respond({"code": code, "message": f"{request.method} {request.url.path}: {exc.detail}"}, exc.status_code)

    router = APIRouter(prefix=API)
    for path, name, resource in (
        ("/finance/invoices", "invoices", "Invoice"),
        ("/procurement/products", "products", "ProductItem"),
        ("/procurement/purchaseorders", "purchaseorders", "PurchaseOrder"),
        ("/company/companies", "companies", "Company"),
        ("/system/members", "members", "Member"),
        ("/system/locations", "locations", "Location"),
        ("/system/departments", "departments", "Department"),
        ("/system/callbacks", "callbacks", "Callback"),
    ):
        read_routes(router, state, path, name, resource)
    write_routes(router, state)
    procurement_routes(router, state)
    app.include_router(router)

    @app.get("/login/companyinfo/{company}")
    async def company_info(company: str) -> Response:
        if company.lower() != CW_COMPANY.lower():
            return respond({"code": "NotFound", "message": f"company {company} not found"}, 404)
        return respond(
            {
                "CompanyName": "Harbour IT",
                "Codebase": "v4_6_release/",
                "VersionCode": "v2025.1",
                "VersionNumber": "v4.6.2025.1",
                "CompanyID": CW_COMPANY,
                "IsCloud": True,
                "SiteUrl": from_url or "127.0.0.1",
            }
        )

    @app.get("/healthz")
    async def healthz() -> Response:
        return respond({"status": "ok", "invoices": len(state.c["invoices"])})

    @app.get("/_sandbox/faults")
    async def get_faults() -> Response:
        return respond(faults.as_dict())

    @app.put("/_sandbox/faults")
    async def put_faults(request: Request) -> Response:
        body = await read_body(request)
        try:
            faults.update(**(body or {}))
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return respond(faults.as_dict())

    app.add_middleware(CwAuthMiddleware, prefix=API)
    app.add_middleware(FaultMiddleware, faults=faults, rng=rng, error_body=cw_error_body)
    return app
