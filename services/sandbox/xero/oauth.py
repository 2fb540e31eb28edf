"""Xero's identity side: /connect/token (authorization_code, refresh_token with
rotation and a 30-minute grace for the previous refresh token,
client_credentials) and /connections.

Bootstrapping a product against the sandbox: GET /_sandbox/authorize (or the
browser-style GET /identity/connect/authorize with a redirect_uri) hands out a
one-time code; POST /connect/token with grant_type=authorization_code and that
code returns an access token and a refresh token reaching all three
organisations. DEMO_CODE always works, for scripts that cannot follow a redirect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ...common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from .state import Clock, XeroState, stable_id

DEMO_CODE = "cz-sandbox-demo-code"
ACCESS_TTL = timedelta(minutes=30)
REFRESH_TTL = timedelta(days=60)
GRACE = timedelta(minutes=30)
SCOPES = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings"


@dataclass
class RefreshToken:
    tenants: tuple[str, ...]
    issued: datetime
    superseded: datetime | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    tenants: tuple[str, ...]
    expires: datetime
    custom: bool = False


@dataclass
class TokenStore:
    clock: Clock
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (PKCE challenge, redirect_uri)

    def issue(self, tenants: tuple[str, ...], with_refresh: bool = True, custom: bool = False) -> dict[str, Any]:
        now = self.clock.now()
        token = "xat_" + secrets.token_urlsafe(32)
        self.access[token] = AccessToken(tenants, now + ACCESS_TTL, custom)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "token_type": "Bearer",
            "scope": SCOPES,
        }
        if with_refresh:
            refresh = "xrt_" + secrets.token_urlsafe(32)
            self.refresh[refresh] = RefreshToken(tenants, now)
            body["refresh_token"] = refresh
        return body

    def rotate(self, token: str) -> dict[str, Any] | None:
        """A new pair for a refresh token still valid, or None (invalid_grant)."""
        record = self.refresh.get(token)
        now = self.clock.now()
        if record is None or record.revoked or now > record.issued + REFRESH_TTL:
            return None
        if record.superseded is not None and now > record.superseded + GRACE:
            return None
        if record.superseded is None:
            record.superseded = now
        return self.issue(record.tenants)

    def check(self, token: str) -> tuple[AccessToken | None, str | None]:
        """(token, None) when usable, else (None, the 401 detail)."""
        record = self.access.get(token)
        if record is None:
            return None, "AuthenticationUnsuccessful"
        if self.clock.now() >= record.expires:
            return None, f"TokenExpired: token expired at {record.expires.strftime('%m/%d/%Y %H:%M:%S')}"
        return record, None

    def revoke_refresh_tokens(self) -> int:
        count = 0
        for record in self.refresh.values():
            if not record.revoked:
                record.revoked = True
                count += 1
        return count

    def new_code(self, tenants: tuple[str, ...], challenge: str | None = None, redirect_uri: str = "") -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = tenants
        if challenge:
            self.challenges[code] = (challenge, redirect_uri)
        return code

    def redeem(self, code: str, verifier: str, redirect_uri: str) -> tuple[str, ...] | None:
        """The tenants of a one-time code; None when unknown, or when its PKCE verifier or redirect_uri is wrong."""
        tenants = self.codes.pop(code, None)
        challenge = self.challenges.pop(code, None)
        if tenants is None or challenge is None:
            return tenants
        expected, uri = challenge
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not verifier or not hmac.compare_digest(digest, expected) or (uri and uri != redirect_uri):
            return None
        return tenants


def _client_ok(request: Request, form: dict[str, str]) -> bool:
    header = request.headers.get("authorization", "")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except Exception:
            return False
    return hmac.compare_digest(client_id, XERO_CLIENT_ID) and hmac.compare_digest(secret, XERO_CLIENT_SECRET)


def _error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _all_tenants(state: XeroState) -> tuple[str, ...]:
    return tuple(state.organisations)


def _pick_tenants(state: XeroState, wanted: str | None) -> tuple[str, ...]:
    if not wanted or wanted == "all":
        return _all_tenants(state)
    picked = []
    for part in wanted.split(","):
        part = part.strip().lower()
        match = next((o.tenant_id for o in state.organisations.values() if part in (o.tenant_id, o.short)), None)
        if match is None:
            raise ValueError(f"tenant: unknown organisation '{part}'")
        picked.append(match)
    return tuple(picked)


def router(state: XeroState, tokens: TokenStore) -> APIRouter:
    api = APIRouter()

    @api.post("/connect/token")
    async def token(request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not _client_ok(request, form):
            return _error("invalid_client")
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            issued = tokens.rotate(form.get("refresh_token", ""))
            return JSONResponse(issued) if issued else _error("invalid_grant")
        if grant == "authorization_code":
            code = form.get("code", "")
            tenants = tokens.redeem(code, form.get("code_verifier", ""), form.get("redirect_uri", "")) or (
                _all_tenants(state) if code == DEMO_CODE else None
            )
            if tenants is None:
                return _error("invalid_grant")
            body = tokens.issue(tenants)
            body["id_token"] = "sandbox-id-token"
            return JSONResponse(body)
        if grant == "client_credentials":
            # A custom connection reaches a single organisation (the first).
            return JSONResponse(tokens.issue(_all_tenants(state)[:1], with_refresh=False, custom=True))
        return _error("unsupported_grant_type")

    # Xero's identity document and its SDKs spell it /Connections; /connections works too.
    @api.get("/Connections")
    @api.get("/connections")
    async def connections(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        record, problem = tokens.check(auth[7:] if auth.lower().startswith("bearer ") else "")
        if record is None:
            return unauthorized(problem or "AuthenticationUnsuccessful")
        out = []
        for tenant in record.tenants:
            org = state.organisations[tenant]
            out.append(
                {
                    "id": stable_id("connection", tenant),
                    "authEventId": stable_id("auth-event", tenant),
                    "tenantId": tenant,
                    "tenantType": "ORGANISATION",
                    "tenantName": org.name,
                    "createdDateUtc": org.created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                    "updatedDateUtc": org.created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                }
            )
        return JSONResponse(out)

    @api.get("/_sandbox/authorize")
    async def sandbox_authorize(tenant: str | None = None) -> JSONResponse:
        try:
            tenants = _pick_tenants(state, tenant)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"code": tokens.new_code(tenants), "tenants": list(tenants)})

    @api.get("/identity/connect/authorize")
    async def authorize(request: Request, redirect_uri: str) -> Response:
        """Xero's consent screen, consented at once to every organisation. With `code_challenge` (PKCE,
        S256 only, as Xero) the code is redeemed only with its `code_verifier` and the same redirect_uri."""
        params = request.query_params
        challenge = params.get("code_challenge")
        if challenge and params.get("code_challenge_method", "plain") != "S256":
            return JSONResponse(
                {"error": "invalid_request", "error_description": "code_challenge_method must be S256"}, status_code=400
            )
        if params.get("client_id") and params["client_id"] != XERO_CLIENT_ID:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = tokens.new_code(_all_tenants(state), challenge, redirect_uri)
        query = {"code": code, "scope": params.get("scope") or SCOPES}
        if request.query_params.get("state"):
            query["state"] = request.query_params["state"]
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)

    return api


def unauthorized(detail: str) -> JSONResponse:
    """Xero's 401 body (a problem-details object)."""
    return JSONResponse(
        {
            "Type": None,
            "Title": "Unauthorized",
            "Status": 401,
            "Detail": detail,
            "Instance": secrets.token_hex(16),
            "Extensions": {},
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


ALL_ORGANISATIONS = tuple(o.tenant_id for o in ORGANISATIONS)
