"""The console's sessions and door, against real Postgres: a session opens only with its signed
cookie, ends at sign-out and expiry; forms need the session's CSRF token; only local paths are
returned to after sign-in; the Connect to Xero flow's PKCE and sealed cookies."""
from __future__ import annotations

import base64
import hashlib
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.admin.console.gate import safe_next
from services.admin.console.session import Sessions, admin_token_authenticator
from services.admin.console.xero_oauth import ConnectError, authorize_url, pkce_pair, seal, suggested_id, unseal
from services.common.database import Database
from services.common.secrets import SecretBox
from services.common.settings import Settings

TOKEN = "console-test-token"
KEY = Fernet.generate_key().decode()


@pytest.fixture
def sessions(fresh_database):
    with Database(fresh_database) as db:
        yield Sessions(db, KEY)


def test_a_session_opens_with_its_signed_cookie_only_and_ends_at_sign_out(sessions):
    cookie, viewer = sessions.start("admin", "admin")
    assert sessions.viewer(cookie) == viewer and viewer.can("operator") and viewer.can("admin")
    session_id, _, signature = cookie.partition(".")
    assert sessions.viewer(f"{session_id}.{'0' * len(signature)}") is None  # a forged signature
    assert sessions.viewer(session_id) is None and sessions.viewer(None) is None
    assert Sessions(sessions.db, Fernet.generate_key().decode()).viewer(cookie) is None  # another installation's key
    sessions.end(viewer)
    assert sessions.viewer(cookie) is None


def test_a_session_expires_and_roles_rank(sessions):
    short = Sessions(sessions.db, KEY, lifetime=timedelta(seconds=1))
    cookie, viewer = short.start("ops", "viewer")
    assert not viewer.can("operator")
    time.sleep(1.2)
    assert short.viewer(cookie) is None
    with pytest.raises(ValueError, match="role"):
        sessions.start("x", "superuser")


def test_each_session_has_its_own_csrf_token(sessions):
    _, first = sessions.start("admin", "admin")
    _, second = sessions.start("admin", "admin")
    assert first.csrf_token != second.csrf_token and len(first.csrf_token) == 64


def test_only_the_admin_token_signs_in():
    authenticate = admin_token_authenticator(TOKEN)
    assert authenticate("", TOKEN) == ("admin", "admin")
    assert authenticate("", "nope") is None and authenticate("", "") is None


@pytest.mark.parametrize("value, expected", [("/exceptions/4", "/exceptions/4"), ("/audit?q=a&b=c", "/audit?q=a&b=c"),
                                             ("https://evil.example/", "/"), ("//evil.example/x", "/"),
                                             ("/\\evil.example", "/"), ("", "/"), (None, "/")])
def test_sign_in_returns_only_to_a_local_path(value, expected):
    assert safe_next(value) == expected


def test_console_forms_refuse_a_request_without_the_csrf_token_and_change_nothing(fresh_database, tmp_path):
    settings = Settings(postgres_url=fresh_database, admin_token=TOKEN, secret_key=KEY, data_dir=tmp_path)
    with TestClient(create_app(settings), base_url="http://console.test") as client:
        assert client.get("/routing", follow_redirects=False).headers["location"] == "/signin?next=%2Frouting"
        refused = client.post("/signin", data={"token": "wrong", "next": "/routing"})
        assert refused.status_code == 401 and "token: that is not the admin token" in refused.text
        signed = client.post("/signin", data={"token": TOKEN, "next": "/routing"}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/routing"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
        form = {"kind": "default", "organisation_id": "nowhere"}
        assert client.post("/routing/rules", data=form).status_code == 403
        assert client.post("/routing/rules", data={**form, "csrf_token": "0" * 64}).status_code == 403
        page = client.get("/routing").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        other_site = client.post("/routing/rules", data={**form, "csrf_token": token},
                                 headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403
        bad = client.post("/routing/rules", data={**form, "csrf_token": token})
        assert bad.status_code == 422 and "nowhere" in bad.text  # the field's problem, named; nothing added
        assert "No routing rules." in client.get("/routing").text
        assert client.get("/api/routing-rules").status_code == 401  # the API never takes the cookie


def test_the_connect_flow_asks_xero_with_state_and_an_s256_challenge():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    settings = Settings(xero_client_id="CID", admin_public_url="https://cz.example.com/")
    query = parse_qs(urlsplit(authorize_url(settings, "st4te", challenge)).query)
    assert query["redirect_uri"] == ["https://cz.example.com/xero/callback"] and query["state"] == ["st4te"]
    assert query["code_challenge"] == [challenge] and query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == ["CID"] and "offline_access" in query["scope"][0]
    assert authorize_url(settings, "s", challenge).startswith("https://login.xero.com/identity/connect/authorize?")


def test_the_flows_cookie_is_sealed_to_its_session_and_short_lived(monkeypatch):
    box = SecretBox(KEY)
    sealed = seal(box, "session-1", state="abc", verifier="v")
    assert "abc" not in sealed and unseal(box, "session-1", sealed)["state"] == "abc"
    with pytest.raises(ConnectError, match="another sign-in"):
        unseal(box, "session-2", sealed)
    with pytest.raises(ConnectError, match="cannot be read"):
        unseal(SecretBox(Fernet.generate_key().decode()), "session-1", sealed)
    with pytest.raises(ConnectError, match="not started"):
        unseal(box, "session-1", None)
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(ConnectError, match="ten minutes"):
        unseal(box, "session-1", sealed)


def test_a_new_organisation_gets_a_short_free_id():
    assert suggested_id("Harbour IT Adelaide Pty Ltd", set()) == "harbour-it-adelaide"
    assert suggested_id("Harbour IT Adelaide Pty Ltd", {"harbour-it-adelaide"}) == "harbour-it-adelaide-2"
    assert suggested_id("!!!", set()) == "organisation"
