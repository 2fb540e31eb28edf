"""OAuth against the Xero simulator: bootstrap, rotation with the 30-minute
grace, invalid_grant after it, revoked tokens, expiry, client credentials."""
from __future__ import annotations

import httpx
import pytest

from services.common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.oauth import DEMO_CODE
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

AUTH = (XERO_CLIENT_ID, XERO_CLIENT_SECRET)


@pytest.fixture()
def sim():
    state = build_state(generate(7, 0))
    with serving(create_app(state)) as base:
        yield state, base


def refresh(base: str, token: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/connect/token", data={"grant_type": "refresh_token", "refresh_token": token},
                      **({"auth": AUTH} | kwargs))


def api(base: str, access: str) -> httpx.Response:
    return httpx.get(f"{base}/api.xro/2.0/Organisation",
                     headers={"Authorization": f"Bearer {access}", "xero-tenant-id": ORGANISATIONS[1].tenant_id})


def test_rotation_grace_and_invalid_grant(sim):
    state, base = sim
    first = sign_in(base)
    assert first["expires_in"] == 1800 and first["token_type"] == "Bearer"
    second = refresh(base, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert api(base, rotated["access_token"]).status_code == 200
    state.clock.advance(29 * 60)  # inside the grace window the old token still works
    assert refresh(base, first["refresh_token"]).status_code == 200
    state.clock.advance(2 * 60)  # past it: invalid_grant
    late = refresh(base, first["refresh_token"])
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    newest = refresh(base, rotated["refresh_token"])  # the newest one is still good
    assert newest.status_code == 200


def test_client_secret_in_body_and_wrong_client(sim):
    _, base = sim
    ok = httpx.post(f"{base}/connect/token", data={"grant_type": "authorization_code", "code": DEMO_CODE,
                                                   "client_id": XERO_CLIENT_ID, "client_secret": XERO_CLIENT_SECRET})
    assert ok.status_code == 200 and ok.json()["refresh_token"]
    bad = httpx.post(f"{base}/connect/token", data={"grant_type": "authorization_code", "code": DEMO_CODE},
                     auth=(XERO_CLIENT_ID, "wrong"))
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    reused = httpx.get(f"{base}/_sandbox/authorize", params={"tenant": "sydney"}).json()
    assert reused["tenants"] == [ORGANISATIONS[1].tenant_id]
    once = httpx.post(f"{base}/connect/token", auth=AUTH, data={"grant_type": "authorization_code",
                                                                "code": reused["code"]})
    twice = httpx.post(f"{base}/connect/token", auth=AUTH, data={"grant_type": "authorization_code",
                                                                 "code": reused["code"]})
    assert once.status_code == 200 and twice.json() == {"error": "invalid_grant"}


def test_access_token_expires_after_30_minutes(sim):
    state, base = sim
    tokens = sign_in(base)
    assert api(base, tokens["access_token"]).status_code == 200
    state.clock.advance(30 * 60 + 1)
    expired = api(base, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.json()["Title"] == "Unauthorized" and expired.json()["Detail"].startswith("TokenExpired")


def test_revoked_refresh_token_is_invalid_grant(sim):
    _, base = sim
    tokens = sign_in(base)
    assert httpx.post(f"{base}/_sandbox/revoke-refresh-token").json()["revoked"] >= 1
    revoked = refresh(base, tokens["refresh_token"])
    assert revoked.status_code == 400 and revoked.json() == {"error": "invalid_grant"}


def test_connections_and_client_credentials(sim):
    _, base = sim
    tokens = sign_in(base)
    listed = httpx.get(f"{base}/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert [c["tenantId"] for c in listed] == [o.tenant_id for o in ORGANISATIONS]
    assert {c["tenantType"] for c in listed} == {"ORGANISATION"}
    assert [c["tenantName"] for c in listed] == [o.name for o in ORGANISATIONS]
    assert all({"id", "createdDateUtc", "updatedDateUtc"} <= set(c) for c in listed)
    custom = httpx.post(f"{base}/connect/token", auth=AUTH, data={"grant_type": "client_credentials"}).json()
    assert "refresh_token" not in custom
    # A custom connection reaches one organisation and may leave out the tenant header.
    reply = httpx.get(f"{base}/api.xro/2.0/Organisation", headers={"Authorization": f"Bearer {custom['access_token']}"})
    assert reply.status_code == 200
    assert reply.json()["Organisations"][0]["OrganisationID"] == ORGANISATIONS[0].tenant_id


def test_the_browser_flow_with_pkce_redeems_a_code_only_with_its_verifier(sim):
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    _state, base = sim
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")

    def code(**extra) -> str:
        resp = httpx.get(f"{base}/identity/connect/authorize", params={
            "response_type": "code", "client_id": XERO_CLIENT_ID, "redirect_uri": "http://cz.test/xero/callback",
            "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", **extra})
        assert resp.status_code == 302, resp.text
        query = parse_qs(urlsplit(resp.headers["location"]).query)
        assert query["state"] == ["s1"]
        return query["code"][0]

    def exchange(value: str, given_verifier: str, redirect: str = "http://cz.test/xero/callback") -> httpx.Response:
        return httpx.post(f"{base}/connect/token", auth=AUTH, data={
            "grant_type": "authorization_code", "code": value, "code_verifier": given_verifier, "redirect_uri": redirect})

    assert exchange(code(), "w" * 64).json() == {"error": "invalid_grant"}  # the wrong verifier
    assert exchange(code(), verifier, "http://elsewhere.test/cb").json() == {"error": "invalid_grant"}
    first = code()
    assert "refresh_token" in exchange(first, verifier).json()
    assert exchange(first, verifier).json() == {"error": "invalid_grant"}  # a code is good once
    plain = httpx.get(f"{base}/identity/connect/authorize", params={
        "redirect_uri": "http://cz.test/cb", "code_challenge": "x", "code_challenge_method": "plain"})
    assert plain.status_code == 400
