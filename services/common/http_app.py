"""The pieces every FastAPI service shares: /healthz, /metrics, bearer auth, serving.

Two doors: `bearer_auth` lets in the one installation token (the services' own calls to each
other), `UserAuth` looks a bearer token up as a person with a role (the admin API), with one
dependency per role.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Coroutine

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from .health import HealthChecks
from .sign_in_limit import FailedSignIns, TooManyFailures

ROLES = ("viewer", "operator", "admin")  # each role may do all that the ones before it may
# The largest id, sequence number or offset PostgreSQL holds (bigint): the bound of such a parameter.
BIGINT_MAX = 2**63 - 1


def add_health_routes(app: FastAPI, checks: HealthChecks) -> None:
    @app.get("/healthz", tags=["health"], summary="Health of the service and the parts it needs")
    def healthz(response: Response) -> dict:
        report = checks.report()
        if report["status"] != "ok":
            response.status_code = 503
        return report

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


_bearer = HTTPBearer(auto_error=False)


def bearer_auth(token: str) -> Callable:
    """A dependency that refuses any request without `Authorization: Bearer <token>`."""

    def require(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(
                status_code=401, detail="missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return "admin"

    return require


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user's name (`admin` for the installation token) and role."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ErrorBody(BaseModel):
    """FastAPI's error answer: `detail` is a message, or a list naming each bad field."""

    detail: Any


def error(description: str) -> dict[str, Any]:
    """An error answer for a route's `responses`: `{"detail": ...}` and what it means there."""
    return {"model": ErrorBody, "description": description}


_error = error
Responses = dict[int | str, dict[str, Any]]  # a route's or router's `responses`

# What every route behind UserAuth may answer besides its own: declared once so the OpenAPI
# document says it (include it with `responses=AUTH_RESPONSES` on the router).
AUTH_RESPONSES: Responses = {
    401: _error("No bearer token, or one that is unknown or revoked"),
    403: _error("The token's user lacks the role this route needs"),
    429: _error("Too many failed sign-ins from this address; Retry-After says when to try again"),
}


NUL_REFUSED = "text may not contain the NUL character (\\u0000)"
SURROGATE_REFUSED = "text may not contain a lone surrogate (\\ud800 to \\udfff): it is not Unicode"


def _text_refused(text: str) -> str | None:
    """Why PostgreSQL (or a JSON answer) could not hold this text, if it could not."""
    if "\x00" in text:
        return NUL_REFUSED
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_REFUSED
    return None


def _refused_in(value: Any, loc: list) -> tuple[list, str] | None:
    """The location of the first string (or object key) that cannot be kept as text, and why."""
    if isinstance(value, str):
        reason = _text_refused(value)
        return (loc, reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = key.encode("utf-8", "backslashreplace").decode() if isinstance(key, str) else key
            found = _refused_in(key, [*loc, shown]) or _refused_in(item, [*loc, shown])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _refused_in(item, [*loc, index])
            if found:
                return found
    return None


def _query_names(dependant: Any) -> set[str]:
    """The names of the query parameters a route reads, its dependencies' and a model's fields included."""
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names |= {f.alias or name for name, f in model.model_fields.items()}
        names.add(param.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def _refused_text(request: Request, query: set[str], body: bool) -> tuple[list, str] | None:
    """Text the route reads (path and query parameters, JSON body) that cannot be kept: where, and why."""
    params = {k: v for k, v in request.query_params.multi_items() if k in query}
    found = _refused_in(dict(request.path_params), ["path"]) or _refused_in(params, ["query"])
    if found or not body or "json" not in request.headers.get("content-type", ""):
        return found
    try:
        parsed = json.loads(await request.body())
    except ValueError:
        return None  # FastAPI answers what it cannot parse itself (400 or 422)
    return _refused_in(parsed, ["body"])


class DocumentedRoute(APIRoute):
    """An admin API route that refuses, and documents, what FastAPI would otherwise let through or answer
    on its own (routers pass `route_class=DocumentedRoute`):

    - a JSON body that cannot be read at all (not UTF-8 text) is a 400, now in the route's OpenAPI entry;
    - a NUL character or a lone surrogate in any path or query parameter or JSON string is a 422 naming the
      field, before the route runs: PostgreSQL text cannot hold either, and an answer echoing a lone surrogate
      cannot be encoded, so each would otherwise fail deep inside as a 500.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.body_field is not None and 400 not in self.responses:
            self.responses = {**self.responses, 400: _error("The body could not be read as JSON (not UTF-8 text)")}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        query = _query_names(self.dependant)
        body = self.body_field is not None

        async def refusing_what_cannot_be_kept(request: Request) -> Response:
            found = await _refused_text(request, query, body)
            if found:
                loc, reason = found
                field = ".".join(str(part) for part in loc[1:]) or loc[0]
                raise RequestValidationError(
                    [{"loc": tuple(loc), "msg": f"{field}: {reason}", "type": "value_error", "input": None}]
                )
            return await handler(request)

        return refusing_what_cannot_be_kept


class UserAuth:
    """The admin API's door: `Authorization: Bearer <token>` looked up as a Principal.

    `lookup(token)` answers the Principal or None. `viewer`, `operator` and `admin` are the
    dependencies that let in that role and those above it; each returns the Principal, so a
    route that records a change names who made it. Bad tokens count as failed sign-ins.
    """

    def __init__(self, lookup: Callable[[str], Principal | None], failures: FailedSignIns):
        self.lookup, self.failures = lookup, failures
        self.viewer, self.operator, self.admin = (self.role(r) for r in ROLES)

    def who(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        known = getattr(request.state, "principal", None)
        if known is not None:  # a router's floor and a route's own role: one lookup per request
            return known
        if credentials is None or not credentials.credentials:
            raise HTTPException(401, "Authorization: a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        address = client_address(request)
        try:
            self.failures.check(address)
        except TooManyFailures as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        found = self.lookup(credentials.credentials)
        if found is None:
            self.failures.failed(address, "api")
            raise HTTPException(
                401, "Authorization: the bearer token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        request.state.principal = found
        return found

    def role(self, needed: str) -> Callable[..., Principal]:
        if needed not in ROLES:
            raise ValueError(f"role: {needed!r} is not one of {', '.join(ROLES)}")

        def require(
            request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
        ) -> Principal:
            found = self.who(request, credentials)
            if not found.can(needed):
                raise HTTPException(403, f"this needs the {needed} role; {found.name} is {found.role}")
            return found

        require.__name__ = f"requires_{needed}"
        return require


def api_router(auth: UserAuth, tag: str | None = None, responses: Responses | None = None) -> APIRouter:
    """A router of the admin API: under /api, open to viewers and above (a route may ask more of its
    caller), its refusals documented, and each route a DocumentedRoute."""
    return APIRouter(
        prefix="/api",
        tags=[tag] if tag else None,
        dependencies=[Depends(auth.viewer)],
        responses={**AUTH_RESPONSES, **(responses or {})},
        route_class=DocumentedRoute,
    )


def csv_download(text: str, filename: str) -> Response:
    """CSV text answered as a file the browser saves under `filename`."""
    return Response(text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def serve(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
