"""Named users at the console, through the whole admin app on real Postgres: a name and password
(or a token) sign in with the user's own role, each page's role holds for them, and failed
sign-ins are refused by name, limited per address and logged."""
import logging

import pytest
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.common.settings import Settings

TOKEN = "console-users-token"
BOOTSTRAP = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "a long enough passphrase"


@pytest.fixture
def client(fresh_database, tmp_path):
    settings = Settings(admin_token=TOKEN, postgres_url=fresh_database, data_dir=tmp_path, signin_max_failures=4,
                        signin_window_seconds=60)
    with TestClient(create_app(settings), base_url="http://console.test") as http:
        yield http


def add(client: TestClient, name: str, role: str, password: str | None = PASSWORD) -> str:
    body = {"name": name, "role": role, **({"password": password} if password else {})}
    added = client.post("/api/users", json=body, headers=BOOTSTRAP)
    assert added.status_code == 201, added.text
    return added.json()["token"]


def sign_in(client: TestClient, name: str, secret: str, next_path: str = "/"):
    return client.post("/signin", data={"name": name, "token": secret, "next": next_path}, follow_redirects=False)


def csrf(page_html: str) -> str:
    return page_html.split('name="csrf_token" value="')[1].split('"')[0]


def test_a_named_user_signs_in_with_its_password_and_sees_its_name_and_role(client):
    add(client, "Maria", "viewer")
    signed = sign_in(client, "maria", PASSWORD, "/records")  # the name, whatever its case
    assert signed.status_code == 303 and signed.headers["location"] == "/records"
    page = client.get("/records").text
    assert "Maria <span class=\"muted\">(viewer)</span>" in page


def test_a_user_signs_in_with_its_token_and_no_name(client):
    token = add(client, "ops", "operator", password=None)
    assert sign_in(client, "", token).status_code == 303
    assert "ops <span class=\"muted\">(operator)</span>" in client.get("/").text
    client.cookies.clear()
    refused = sign_in(client, "ops", token)  # no password: the name with a token opens nothing
    assert refused.status_code == 401 and "password: that name and password do not match" in refused.text


def test_each_page_holds_its_role_for_named_users(client):
    add(client, "vera", "viewer")
    add(client, "otto", "operator")
    rule = {"kind": "default", "organisation_id": "nowhere"}
    sign_in(client, "vera", PASSWORD)
    overview = client.get("/").text
    assert "Run now" not in overview
    refused = client.post("/overview/cycles/invoice/run", data={"csrf_token": csrf(overview)})
    assert refused.status_code == 403 and "operator" in refused.text
    client.cookies.clear()
    sign_in(client, "otto", PASSWORD)
    routing = client.get("/routing").text
    assert 'action="/routing/rules"' not in routing  # no form to add a rule for an operator
    refused = client.post("/routing/rules", data={**rule, "csrf_token": csrf(client.get("/").text)})
    assert refused.status_code == 403 and "admin" in refused.text  # mapping and routing edits are the admin's
    assert "disabled" in client.get("/settings").text


def test_failed_console_sign_ins_name_the_field_are_limited_and_logged(client, caplog):
    caplog.set_level(logging.WARNING, logger="services.common.sign_in_limit")
    add(client, "maria", "admin")
    empty = sign_in(client, "maria", "")
    assert empty.status_code == 401 and "token: enter your password" in empty.text
    wrong = sign_in(client, "maria", "not her password")
    assert wrong.status_code == 401 and "password: that name and password do not match" in wrong.text
    assert 'value="maria"' in wrong.text  # the name stays typed in
    unknown = sign_in(client, "nobody", PASSWORD)  # an unknown name reads the same as a wrong password
    assert unknown.status_code == 401 and "password: that name and password do not match" in unknown.text
    assert sign_in(client, "", "czu_guess").status_code == 401
    assert sign_in(client, "", TOKEN.upper()).status_code == 401
    blocked = sign_in(client, "maria", PASSWORD)  # four failures: even the right password waits
    assert blocked.status_code == 429 and "too many failed sign-ins" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0
    logged = [r for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert [(r.door, r.user) for r in logged] == [("console", "maria"), ("console", "nobody"), ("console", ""),
                                                  ("console", "")]
    assert "not her password" not in caplog.text and PASSWORD not in caplog.text and TOKEN.upper() not in caplog.text
