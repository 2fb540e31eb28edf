"""The console's door: sign-in and sign-out, the role each page needs, and CSRF
protection of every form that changes something.

A page asks for a role with `Depends(gate.role("viewer"))`; a form handler with
`Depends(gate.form("operator"))`, which also checks the CSRF token (hidden
field `csrf_token`, or the `X-CSRF-Token` header htmx sends) and that the
request comes from the console's own origin. Someone not signed in is sent to
the sign-in page and, once signed in, back to the page they asked for (an alert
email's link lands where it pointed).

Sign-in takes a user's name and password, or no name and a token (the admin token
or a user's API token). Failed sign-ins share the API's counter per client address:
past the limit the form answers 429 until the window passes.
"""

from __future__ import annotations

import hmac
from typing import Callable
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ...common.http_app import client_address
from ...common.sign_in_limit import FailedSignIns, TooManyFailures
from .rendering import Renderer
from .session import COOKIE, Authenticator, Sessions, Viewer


class SignInRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # not a browser, or a browser that sends neither: the CSRF token still decides
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


class Gate:
    def __init__(self, sessions: Sessions, authenticate: Authenticator, renderer: Renderer, failures: FailedSignIns):
        self.sessions, self.authenticate, self.renderer, self.failures = sessions, authenticate, renderer, failures

    def role(self, needed: str) -> Callable[[Request], Viewer]:
        def viewer(request: Request) -> Viewer:
            found = self.sessions.viewer(request.cookies.get(COOKIE))
            if found is None:
                query = f"?{request.url.query}" if request.url.query else ""
                raise SignInRequired(request.url.path + query)
            if not found.can(needed):
                raise HTTPException(403, f"this needs the {needed} role; you are signed in as {found.role}")
            request.state.viewer = found
            return found

        return viewer

    def form(self, needed: str) -> Callable:
        check_role = self.role(needed)

        async def viewer(request: Request) -> Viewer:
            found = check_role(request)
            sent = request.headers.get("x-csrf-token")
            if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                field = (await request.form()).get("csrf_token")
                sent = field if isinstance(field, str) else None
            if not sent or not hmac.compare_digest(str(sent).encode(), found.csrf_token.encode()):
                raise HTTPException(403, "csrf_token: missing or stale; reload the page and try again")
            if not _same_origin(request):
                raise HTTPException(403, "origin: this form was sent from another site")
            return found

        return viewer

    def install(self, app: FastAPI) -> None:
        """The sign-in redirect, for every console page."""

        @app.exception_handler(SignInRequired)
        async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
            target = f"/signin?next={quote(exc.next_path, safe='')}"
            if request.headers.get("HX-Request"):  # htmx follows this header with a full page load
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)

    def router(self, secure_cookies: bool) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get("/signin")
        def sign_in_page(request: Request, next: str = "/"):  # noqa: A002 (the parameter people see in the URL)
            return self.renderer.page(request, "signin.html", next=safe_next(next), error=None)

        @router.post("/signin")
        def sign_in(request: Request, token: str = Form(""), name: str = Form(""), next: str = Form("/")):  # noqa: A002
            target = safe_next(next)
            if not _same_origin(request):
                raise HTTPException(403, "origin: this form was sent from another site")

            def refused(status: int, error: str, headers: dict | None = None) -> Response:
                page = self.renderer.page(
                    request, "signin.html", status_code=status, next=target, error=error, name=name
                )
                page.headers.update(headers or {})
                return page

            if not token.strip():
                return refused(
                    401,
                    "token: enter your password, or a token"
                    if name.strip()
                    else "token: enter the admin token, or your name and password",
                )
            address = client_address(request)
            try:
                self.failures.check(address)
            except TooManyFailures as exc:
                return refused(429, str(exc), {"Retry-After": str(exc.retry_after)})
            who = self.authenticate(name, token)
            if who is None:
                self.failures.failed(address, "console", name.strip() or None)
                return refused(
                    401,
                    "password: that name and password do not match"
                    if name.strip()
                    else "token: that is not the admin token or a user's token",
                )
            cookie, _viewer = self.sessions.start(*who)
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(
                COOKIE,
                cookie,
                max_age=int(self.sessions.lifetime.total_seconds()),
                path="/",
                httponly=True,
                samesite="lax",
                secure=secure_cookies,
            )
            return response

        @router.post("/signout")
        async def sign_out(request: Request) -> Response:
            viewer = await self.form("viewer")(request)
            self.sessions.end(viewer)
            response = RedirectResponse("/signin", status_code=303)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies)
            return response

        return router
