"""What generated requests found the admin API answering with a 500, now refused by name (422), and the
answers its OpenAPI document now declares; schemathesis checks them all (tests/admin/api_fuzz)."""
from __future__ import annotations

import pytest

from services.common.http_app import BIGINT_MAX

from .config_fixtures import AUTH, CATALOG, ORGS, make_client, make_settings, seed_orgs


@pytest.fixture
def client(fresh_database, tmp_path):
    with make_client(make_settings(fresh_database, tmp_path=tmp_path)) as client:
        seed_orgs(client, ORGS[:1])
        yield client


def refused(resp, *loc) -> str:
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert [list(d["loc"]) for d in detail] == [list(loc)], detail
    return detail[0]["msg"]


def test_a_catalog_listing_an_account_twice_is_refused_naming_it(client):
    accounts = [*CATALOG["accounts"], {"code": "200", "name": "Sales again"}]
    resp = client.put("/api/organisations/adelaide/catalog", json={**CATALOG, "accounts": accounts}, headers=AUTH)
    assert "'200' is listed twice" in refused(resp, "body", "accounts", 3, "code")
    tracking = [*CATALOG["tracking"], dict(CATALOG["tracking"][0])]
    resp = client.put("/api/organisations/adelaide/catalog", json={**CATALOG, "tracking": tracking}, headers=AUTH)
    refused(resp, "body", "tracking", 2, "option")
    assert client.get("/api/organisations/adelaide/catalog", headers=AUTH).json()["accounts"][0]["name"] == "Sales"


def test_a_nul_character_is_refused_naming_the_field_not_a_database_error(client):
    resp = client.post("/api/organisations", json={**ORGS[1], "name": "Harbour\x00IT"}, headers=AUTH)
    assert "text may not contain the NUL character" in refused(resp, "body", "name")
    resp = client.put("/api/organisations/adelaide/catalog",
                      json={**CATALOG, "contacts": [{"contact_id": "c1", "name": "A\x00"}]}, headers=AUTH)
    refused(resp, "body", "contacts", 0, "name")
    refused(client.get("/api/config/changes", params={"table": "x\x00"}, headers=AUTH), "query", "table")
    assert client.get("/api/config/changes", params={"unrelated": "x\x00"}, headers=AUTH).status_code == 200


def test_ids_and_sequence_numbers_beyond_what_postgres_holds_are_refused(client):
    refused(client.get(f"/api/routing-rules/{BIGINT_MAX + 1}", headers=AUTH), "path", "rule_id")
    assert client.get(f"/api/routing-rules/{BIGINT_MAX}", headers=AUTH).status_code == 404
    refused(client.get("/api/config/changes", params={"before_seq": BIGINT_MAX + 1}, headers=AUTH),
            "query", "before_seq")


def test_the_document_declares_what_the_routes_answer(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"200", "404"} <= set(paths["/api/organisations/{org_id}"]["get"]["responses"])
    assert {"204", "404", "409"} <= set(paths["/api/organisations/{org_id}"]["delete"]["responses"])
    assert {"201", "400", "409", "422"} <= set(paths["/api/mappings/accounts"]["post"]["responses"])
    refresh = paths["/api/organisations/{org_id}/catalog/refresh"]["post"]["responses"]
    assert {"200", "409", "502", "503"} <= set(refresh)
    organisation = paths["/api/organisations/{org_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert organisation["schema"] == {"$ref": "#/components/schemas/Organisation"}


def test_a_tax_rate_beyond_what_is_kept_is_refused_naming_it(client):
    rates = [{"tax_type": "BIG", "rate": "-6600320414"}]
    resp = client.put("/api/organisations/adelaide/catalog", json={**CATALOG, "tax_rates": rates}, headers=AUTH)
    refused(resp, "body", "tax_rates", 0, "rate")
    rates = [{"tax_type": "OK", "rate": "99999.9999"}]
    assert client.put("/api/organisations/adelaide/catalog", json={**CATALOG, "tax_rates": rates},
                      headers=AUTH).status_code == 200


def test_a_csv_import_holding_a_nul_character_is_refused_naming_its_line(client):
    csv = b"table,organisation_id,side,source,account_code\naccounts,adelaide,sales,a\x00b,200\n"
    for dry_run in ("true", "false"):
        resp = client.post("/api/mappings/import", params={"dry_run": dry_run}, content=csv,
                           headers={**AUTH, "Content-Type": "text/csv"})
        assert refused(resp, "body", "csv").startswith("line 2: text may not contain the NUL character")
    assert client.get("/api/mappings/accounts", headers=AUTH).json() == []


def test_a_lone_surrogate_is_refused_naming_the_field(client):
    """JSON may spell a lone surrogate (\\ud800); it is not Unicode: PostgreSQL cannot keep it, and an error answer
    echoing it could not be encoded (both were 500s)."""
    json_headers = {**AUTH, "Content-Type": "application/json"}
    resp = client.post("/api/organisations", headers=json_headers,
                       content=b'{"id": "x1", "name": "bad\\ud800name", "tenant_id": "t-x"}')
    assert "lone surrogate" in refused(resp, "body", "name")
    resp = client.post("/api/organisations", headers=json_headers,
                       content=b'{"id": "x1", "name": "n", "tenant_id": "t-x", "\\udc00": 1}')
    refused(resp, "body", "\\udc00")


def test_a_replay_window_outside_the_calendar_in_utc_is_refused_naming_its_end(fresh_database, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from services.admin.routes_sync import sync_router
    from services.common.database import Database

    settings = make_settings(fresh_database, "127.0.0.1:9", tmp_path)  # refused before anything is sent
    app = FastAPI()
    app.include_router(sync_router(settings, Database(settings.postgres_url)))
    with TestClient(app, headers={"Authorization": f"Bearer {settings.admin_token}"}) as http:
        resp = http.post("/api/replay", json={"record_type": "invoice", "from": "0001-01-01T00:00:00+01:00",
                                              "to": "2000-01-01"})
        assert "before year 1 or after 9999 in UTC" in refused(resp, "body", "from")
        resp = http.post("/api/replay", json={"record_type": "invoice", "from": "2000-01-01",
                                              "to": "9999-12-31T23:59:59-01:00"})
        refused(resp, "body", "to")
