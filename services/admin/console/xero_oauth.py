"""Connecting Xero organisations by OAuth 2.0's authorization-code flow with PKCE, as
Xero documents it: the console sends the operator to Xero's authorize URL with a
`state` and a S256 code challenge, Xero sends them back to the callback with a code,
which is exchanged (with the verifier) for tokens, and `/connections` lists the
organisations the consent reached, for the operator to pick.

Between the steps the flow's own secrets travel in short-lived cookies sealed with
the installation's key (HttpOnly, bound to the sign-in session, ten minutes): the
state and verifier before the redirect, the refresh token and the connections
until the operator has picked. Nothing of it is shown or logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from ...common.secrets import SecretBox
from ...common.settings import Settings

XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
SCOPES = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings"
FLOW_COOKIE, GRANT_COOKIE = "cz_xero_flow", "cz_xero_grant"
FLOW_SECONDS = 600


class ConnectError(Exception):
    """The flow cannot go on; the message says why, for the operator."""


@dataclass(frozen=True)
class Connection:
    tenant_id: str
    tenant_name: str
    tenant_type: str


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def redirect_uri(settings: Settings) -> str:
    base = settings.admin_public_url or f"http://{settings.host}:{settings.admin_port}"
    return base.rstrip("/") + "/xero/callback"


def authorize_url(settings: Settings, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": settings.xero_client_id,
        "redirect_uri": redirect_uri(settings),
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.xero_authorize_url or XERO_AUTHORIZE_URL}?{urlencode(query)}"


def seal(box: SecretBox, session_id: str, **values) -> str:
    return box.seal(json.dumps({**values, "sid": session_id, "at": time.time()}))


def unseal(box: SecretBox, session_id: str, sealed: str | None) -> dict:
    """The cookie's values, if it is this session's and fresh; else ConnectError."""
    if not sealed:
        raise ConnectError("the connection was not started from this browser, or took too long: start again")
    try:
        values = json.loads(box.open(sealed))
    except ValueError:
        raise ConnectError("the connection's cookie cannot be read: start again") from None
    if values.get("sid") != session_id or time.time() - values.get("at", 0) > FLOW_SECONDS:
        raise ConnectError("the connection took longer than ten minutes or belongs to another sign-in: start again")
    return values


def exchange_code(settings: Settings, code: str, verifier: str, client: httpx.Client) -> dict:
    """The token endpoint's answer to the code: access_token, refresh_token, scope."""
    resp = client.post(
        settings.xero_token_url,
        auth=(settings.xero_client_id, settings.xero_client_secret),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri(settings),
        },
    )
    body = _json(resp)
    if resp.status_code != 200 or "refresh_token" not in body:
        raise ConnectError(
            f"Xero did not accept the authorisation ({body.get('error') or resp.status_code}): start again"
        )
    return body


def list_connections(settings: Settings, access_token: str, client: httpx.Client) -> list[Connection]:
    resp = client.get(settings.xero_connections_url, headers={"Authorization": f"Bearer {access_token}"})
    if resp.status_code != 200 or not isinstance(_json(resp, []), list):
        raise ConnectError(f"Xero did not list the connections ({resp.status_code}): start again")
    return [
        Connection(c["tenantId"], c.get("tenantName") or c["tenantId"], c.get("tenantType", "ORGANISATION"))
        for c in resp.json()
        if c.get("tenantId")
    ]


def suggested_id(name: str, taken: set[str]) -> str:
    """A short organisation id from a Xero name: "Harbour IT Adelaide Pty Ltd" -> "harbour-it-adelaide"."""
    words = [
        w
        for w in "".join(ch.lower() if ch.isalnum() else " " for ch in name).split()
        if w not in ("pty", "ltd", "limited", "inc", "llc")
    ]
    base = "-".join(words)[:40].strip("-") or "organisation"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _json(resp: httpx.Response, default=None):
    try:
        return resp.json()
    except ValueError:
        return {} if default is None else default
