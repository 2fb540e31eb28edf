"""People and roles through the whole admin app, against real Postgres and the real broker:
users added with a token shown once, secrets kept only as hashes, every route's role boundary
(a role below is 403, the role itself is let in), the history naming the authenticated user,
revocation at once, and failed sign-ins limited and logged."""
import hashlib
import logging

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from services.admin.app import create_app
from services.common.http_app import ROLES
from services.common.settings import Settings

TOKEN = "users-bootstrap-token"
BOOTSTRAP = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery"


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def settings(kafka_bootstrap, fresh_database, tmp_path):
    return Settings(admin_token=TOKEN, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database, data_dir=tmp_path,
                    signin_max_failures=3, signin_window_seconds=60)


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as http:
        yield http


@pytest.fixture
def tokens(client) -> dict[str, str]:
    """One user per role, added by the bootstrap admin: {role: token}."""
    found = {}
    for role in ROLES:
        added = client.post("/api/users", json={"name": f"{role}-person", "role": role, "password": PASSWORD},
                            headers=BOOTSTRAP)
        assert added.status_code == 201, added.text
        found[role] = added.json()["token"]
    return found


def rows(url: str, sql: str, *args) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_user_is_answered_once_with_its_token_and_kept_only_as_hashes(client, settings):
    added = client.post("/api/users", json={"name": "maria@harbour.example", "role": "operator", "password": PASSWORD},
                        headers=BOOTSTRAP)
    assert added.status_code == 201, added.text
    user = added.json()
    assert (user["name"], user["role"], user["has_password"], user["created_by"]) == (
        "maria@harbour.example", "operator", True, "admin")
    token = user["token"]
    assert token.startswith("czu_") and len(token) > 40

    listed = client.get("/api/users", headers=BOOTSTRAP)
    assert listed.status_code == 200 and [u["name"] for u in listed.json()] == ["maria@harbour.example"]
    assert token not in listed.text and "token" not in listed.json()[0] and PASSWORD not in listed.text

    [stored] = rows(settings.postgres_url, "select * from users")
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in stored["password_hash"]
    history = client.get("/api/config/changes", params={"table": "users"}, headers=BOOTSTRAP).json()
    assert [(c["action"], c["actor"], c["key"]) for c in history] == [("insert", "admin", "maria@harbour.example")]
    assert token not in str(history) and "hash" not in str(history)

    assert client.get("/api/whoami", headers=bearer(token)).json() == {"name": "maria@harbour.example", "role": "operator"}
    assert client.get("/api/whoami", headers=BOOTSTRAP).json() == {"name": "admin", "role": "admin"}


@pytest.mark.parametrize("body, status, field", [
    ({"name": "maria", "role": "owner"}, 422, "role"),
    ({"name": "maria", "role": "viewer", "password": "short"}, 422, "password"),
    ({"name": "maria", "role": "viewer", "password": "x" * 257}, 422, "password"),
    ({"name": "has space", "role": "viewer"}, 422, "name"),
    ({"name": "", "role": "viewer"}, 422, "name"),
    ({"name": "Admin", "role": "viewer"}, 409, "name"),
    ({"role": "viewer"}, 422, "name"),
])
def test_a_bad_user_is_refused_by_name_and_nothing_is_added(client, settings, body, status, field):
    refused = client.post("/api/users", json=body, headers=BOOTSTRAP)
    assert refused.status_code == status and field in refused.text, refused.text
    assert "short" not in refused.text and "x" * 257 not in refused.text  # a password is never echoed
    assert rows(settings.postgres_url, "select * from users") == []


def test_a_name_is_one_live_user_and_can_be_reused_after_revocation(client, tokens):
    again = client.post("/api/users", json={"name": "VIEWER-person", "role": "admin"}, headers=BOOTSTRAP)
    assert again.status_code == 409 and "name" in again.text
    assert client.delete("/api/users/viewer-person", headers=BOOTSTRAP).status_code == 204
    assert client.get("/api/whoami", headers=bearer(tokens["viewer"])).status_code == 401  # at once
    assert client.delete("/api/users/viewer-person", headers=BOOTSTRAP).status_code == 404
    reused = client.post("/api/users", json={"name": "viewer-person", "role": "operator"}, headers=BOOTSTRAP)
    assert reused.status_code == 201 and reused.json()["has_password"] is False
    assert client.get("/api/whoami", headers=bearer(reused.json()["token"])).json()["role"] == "operator"
    assert client.get("/api/whoami", headers=bearer(tokens["viewer"])).status_code == 401  # the old token stays dead


# The least role each operation of the API needs. A route missing here fails the test below:
# every new route says who may call it.
NEEDS = {
    "GET /api/whoami": "viewer", "GET /api/users": "admin", "POST /api/users": "admin",
    "DELETE /api/users/{name}": "admin",
    "GET /api/sync": "viewer", "POST /api/sync/{record_type}/run": "operator",
    "POST /api/records/{record_type}/{record_id}/force-sync": "operator", "POST /api/replay": "operator",
    "GET /api/records": "viewer", "GET /api/balances": "viewer", "GET /api/balances.csv": "viewer",
    "GET /api/settings/audit": "viewer", "PUT /api/settings/audit": "admin",
    "GET /api/organisations": "viewer", "POST /api/organisations": "admin",
    "GET /api/organisations/{org_id}": "viewer", "PUT /api/organisations/{org_id}": "admin",
    "DELETE /api/organisations/{org_id}": "admin", "GET /api/organisations/{org_id}/rollup": "viewer",
    "GET /api/organisations/{org_id}/catalog": "viewer", "PUT /api/organisations/{org_id}/catalog": "admin",
    "POST /api/organisations/{org_id}/catalog/refresh": "operator",
    "GET /api/routing-rules": "viewer", "POST /api/routing-rules": "admin", "POST /api/routing-rules/preview": "viewer",
    "GET /api/routing-rules/{rule_id}": "viewer", "PUT /api/routing-rules/{rule_id}": "admin",
    "DELETE /api/routing-rules/{rule_id}": "admin",
    "POST /api/mappings/import": "admin", "GET /api/mappings/export.csv": "viewer",
    **{f"{method} /api/mappings/{table}": ("viewer" if method == "GET" else "admin")
       for table in ("accounts", "tax", "tracking", "contacts") for method in ("GET", "POST", "PUT", "DELETE")},
    "GET /api/settings/alerts": "viewer", "PUT /api/settings/alerts": "admin", "GET /api/settings": "viewer",
    "GET /api/settings/{record_type}": "viewer", "PUT /api/settings/{record_type}": "admin",
    "GET /api/config/changes": "viewer",
    "GET /api/audit": "viewer", "GET /api/audit.csv": "viewer", "GET /api/audit/{entry_id}": "viewer",
    "GET /api/exceptions": "viewer", "POST /api/exceptions/{exception_id}/resolve": "operator",
    "POST /api/alerts/digest": "operator", "GET /api/outbox": "viewer",
    "GET /api/organisations/{org_id}/sync-settings": "viewer", "PUT /api/organisations/{org_id}/sync-settings": "admin",
    "GET /api/organisations/{org_id}/shadow-report": "viewer",
    "GET /api/organisations/{org_id}/shadow-report.csv": "viewer",
}
PATH_VALUES = {"name": "nobody", "record_type": "invoice", "record_id": "1", "org_id": "nowhere", "rule_id": "1",
               "table": "accounts", "entry_id": "e1", "exception_id": "1"}


def operations(client) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops if path.startswith("/api/")]


def test_every_route_of_the_api_declares_its_role(client):
    assert sorted(f"{m} {p}" for m, p in operations(client)) == sorted(NEEDS)


def test_every_role_boundary_holds(client, tokens):
    """Each route refuses the role below the one it needs (403) and lets that role in. The request
    is one the route may refuse for its content (404, 422, 503 with no audit service): never for
    who sent it."""
    for method, path in operations(client):
        needed = NEEDS[f"{method} {path}"]
        url = path.format(**PATH_VALUES)
        for role in ROLES:
            resp = client.request(method, url, headers=bearer(tokens[role]), json={})
            if ROLES.index(role) < ROLES.index(needed):
                assert resp.status_code == 403, (role, method, path, resp.status_code, resp.text)
                assert needed in resp.json()["detail"] and role in resp.json()["detail"]
            else:
                assert resp.status_code not in (401, 403), (role, method, path, resp.status_code, resp.text)
        assert client.request(method, url, json={}).status_code == 401


def test_a_viewers_force_sync_is_403_and_an_operators_is_queued_in_its_name(client, tokens):
    refused = client.post("/api/records/invoice/1234/force-sync", headers=bearer(tokens["viewer"]))
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    accepted = client.post("/api/records/invoice/1234/force-sync", headers=bearer(tokens["operator"]))
    assert accepted.status_code == 202, accepted.text


def test_an_operators_mapping_edit_is_403_and_changes_nothing(client, settings, tokens):
    row = {"organisation_id": "adelaide", "side": "sales", "source": "Managed services", "account_code": "200"}
    refused = client.put("/api/mappings/accounts", json=row, headers=bearer(tokens["operator"]))
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert client.get("/api/mappings/accounts", headers=bearer(tokens["operator"])).json() == []
    assert rows(settings.postgres_url, "select * from config_changes where table_name <> 'users'") == []


def test_the_history_names_the_user_who_made_each_change_whatever_the_header_says(client, settings, tokens):
    client.post("/api/users", json={"name": "maria", "role": "admin"}, headers=BOOTSTRAP)
    maria = client.get("/api/users", headers=BOOTSTRAP).json()
    assert "maria" in [u["name"] for u in maria]
    as_admin = bearer(tokens["admin"], **{"X-Actor": "mallory"})
    assert client.post("/api/organisations", json={"id": "adelaide", "name": "Harbour Adelaide", "tenant_id": "t-1"},
                       headers=as_admin).status_code == 201
    assert client.put("/api/settings/invoice", json={"cadence_minutes": 120}, headers=BOOTSTRAP).status_code == 200
    assert client.put("/api/settings/alerts", json={"digest_hour_utc": 6, "recipients": "books@h.example"},
                      headers=as_admin).status_code == 200
    with psycopg.connect(settings.postgres_url) as conn:
        exception_id = conn.execute(
            "insert into exceptions (kind, record_type, record_id, message, source_topic, first_seen, last_seen)"
            " values ('missing_contact', 'invoice', '7', 'no contact', 'sync.exceptions.v1', now(), now())"
            " returning id").fetchone()[0]
    resolved = client.post(f"/api/exceptions/{exception_id}/resolve", headers=bearer(tokens["operator"], **{"X-Actor": "x"}))
    assert resolved.status_code == 200 and resolved.json()["resolved_by"] == "operator-person"

    history = client.get("/api/config/changes", headers=BOOTSTRAP).json()
    named = [(c["table"], c["actor"]) for c in history if c["table"] != "users"]
    assert named == [("alert_settings", "admin-person"), ("record_type_settings", "admin"),
                     ("organisations", "admin-person")]
    assert "mallory" not in str(history)


def test_revoking_a_user_ends_its_console_sessions(client, settings, tokens):
    signed = client.post("/signin", data={"name": "operator-person", "token": PASSWORD, "next": "/records"},
                         follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/records"
    assert client.get("/records").status_code == 200
    assert client.delete("/api/users/operator-person", headers=BOOTSTRAP).status_code == 204
    assert client.get("/records", follow_redirects=False).status_code == 303  # sent to sign in again
    history = client.get("/api/config/changes", params={"table": "users"}, headers=BOOTSTRAP).json()
    assert (history[0]["action"], history[0]["key"], history[0]["actor"]) == ("delete", "operator-person", "admin")


def test_failed_api_sign_ins_are_limited_per_address_and_logged(client, tokens, caplog):
    caplog.set_level(logging.WARNING, logger="services.common.sign_in_limit")
    for _ in range(3):
        assert client.get("/api/whoami", headers=bearer("czu_guessed-token")).status_code == 401
    blocked = client.get("/api/whoami", headers=bearer(tokens["viewer"]))  # even a good token, from here, now
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "too many failed sign-ins" in blocked.json()["detail"]
    assert client.post("/signin", data={"name": "viewer-person", "token": PASSWORD}).status_code == 429  # one counter
    failures = [r for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.client == "testclient" and r.door == "api" for r in failures)
    assert "czu_guessed-token" not in caplog.text and tokens["viewer"] not in caplog.text
    assert client.get("/api/whoami").status_code == 401  # no credential is not a failed sign-in, and says so
