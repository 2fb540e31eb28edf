"""Each organisation's sync settings and its shadow report through the whole admin app, against
real Postgres and the real broker: read by a viewer, changed by an admin with the history naming
them, a bad value refused by name with nothing changed, going live replaying the shadow run's
records on sync.commands.v1, and the report paged, filtered, counted and exported as CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.common.db import connect
from services.common.lifecycle import Event
from services.common.record_status import Content, StatusChange, record_changes
from services.common.settings import Settings
from services.common.shadow_report import ShadowOutcome, record_outcomes

from .test_sync_routes import find_command

TOKEN = "real-books-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
T = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(kafka_bootstrap, fresh_database, tmp_path):
    settings = Settings(admin_token=TOKEN, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        data_dir=tmp_path)
    with TestClient(create_app(settings)) as http:
        assert http.post("/api/organisations", json={"id": "adelaide", "name": "Harbour IT Adelaide",
                                                     "tenant_id": "t-adelaide"}, headers=ADMIN).status_code == 201
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("insert into xero_accounts (organisation_id, code, name, class, status) values"
                         " ('adelaide', '860', 'Rounding', 'EXPENSE', 'ACTIVE')")
        http.database = fresh_database
        yield http


def person(client, role: str) -> dict:
    added = client.post("/api/users", json={"name": f"{role}-1", "role": role}, headers=ADMIN)
    assert added.status_code == 201, added.text
    return {"Authorization": f"Bearer {added.json()['token']}"}


def settings_url(org: str = "adelaide") -> str:
    return f"/api/organisations/{org}/sync-settings"


def test_a_viewer_reads_the_settings_an_admin_changes_them_in_their_name(client):
    viewer, admin = person(client, "viewer"), person(client, "admin")
    first = client.get(settings_url(), headers=viewer)
    assert first.status_code == 200, first.text
    assert first.json() == {"organisation_id": "adelaide", "go_live_date": None, "mode": "live",
                            "lock_date_treatment": "exception", "rounding_account_code": None,
                            "customer_details": False, "shadow_since": None}
    refused = client.put(settings_url(), json={"mode": "shadow"}, headers=viewer)
    assert refused.status_code == 403, refused.text

    saved = client.put(settings_url(), json={"go_live_date": "2026-11-01", "mode": "shadow",
                                             "lock_date_treatment": "first_open_day", "rounding_account_code": "860",
                                             "customer_details": True}, headers={**admin, "X-Actor": "mallory"})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["go_live_date"], body["mode"], body["lock_date_treatment"], body["rounding_account_code"],
            body["customer_details"]) == ("2026-11-01", "shadow", "first_open_day", "860", True)
    assert body["shadow_since"] and body["decided_again"] == []
    assert client.get(settings_url(), headers=viewer).json()["mode"] == "shadow"

    # Only what is sent changes; null clears the date and the account.
    cleared = client.put(settings_url(), json={"go_live_date": None, "rounding_account_code": None}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["go_live_date"], cleared.json()["rounding_account_code"], cleared.json()["mode"]) == (
        None, None, "shadow")

    history = client.get("/api/config/changes", params={"table": "organisation_sync_settings"}, headers=ADMIN).json()
    assert [(c["actor"], c["key"]) for c in history] == [("admin-1", "adelaide")] * 2
    assert history[1]["before"]["mode"] == "live" and history[1]["after"]["go_live_date"] == "2026-11-01"
    assert "mallory" not in str(history)


@pytest.mark.parametrize("body, field", [
    ({"mode": "dry-run"}, "mode"), ({"mode": None}, "mode"), ({"lock_date_treatment": "later"}, "lock_date_treatment"),
    ({"go_live_date": "1 November"}, "go_live_date"), ({"rounding_account_code": "999"}, "rounding_account_code"),
    ({"rounding_account_code": ""}, "rounding_account_code"), ({"rounding_account_code": "8\x0060"},
                                                                "rounding_account_code"),
    ({"customer_details": "maybe"}, "customer_details"), ({"customer_details": None}, "customer_details"),
    ({"colour": "red"}, "colour"), ({"mode": "shadow", "rounding_account_code": "999"}, "rounding_account_code"),
])
def test_a_bad_value_is_refused_by_name_and_nothing_changes(client, body, field):
    refused = client.put(settings_url(), json=body, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert any(field in err["loc"] for err in refused.json()["detail"]), refused.text
    assert client.get(settings_url(), headers=ADMIN).json()["mode"] == "live"
    assert client.get("/api/config/changes", params={"table": "organisation_sync_settings"},
                      headers=ADMIN).json() == []


def test_an_unknown_organisation_is_404(client):
    for method, path in (("GET", settings_url("nowhere")), ("PUT", settings_url("nowhere")),
                         ("GET", "/api/organisations/nowhere/shadow-report"),
                         ("GET", "/api/organisations/nowhere/shadow-report.csv")):
        resp = client.request(method, path, json={"mode": "shadow"}, headers=ADMIN)
        assert resp.status_code == 404 and "nowhere" in resp.text, (method, path, resp.text)


def shadowed(database: str, cw_id: str, updated: datetime, record_type: str = "invoice") -> None:
    with connect(database, autocommit=True) as conn:
        record_changes(conn, [
            StatusChange(record_type, cw_id, Event.OBSERVED, observed_at=updated,
                         content=Content("h" + cw_id, updated, None)),
            StatusChange(record_type, cw_id, Event.SHADOWED, observed_at=updated, organisation_id="adelaide")])


def test_going_live_replays_the_shadow_runs_records(client, kafka_bootstrap, codec):
    assert client.put(settings_url(), json={"mode": "shadow"}, headers=ADMIN).status_code == 200
    shadowed(client.database, "1001", T - timedelta(days=3))
    shadowed(client.database, "1002", T - timedelta(days=1))
    shadowed(client.database, "2001", T - timedelta(days=2), "credit_note")

    live = client.put(settings_url(), json={"mode": "live"}, headers=ADMIN)
    assert live.status_code == 200, live.text
    assert live.json()["mode"] == "live" and live.json()["shadow_since"] is None
    replays = {r["record_type"]: r for r in live.json()["decided_again"]}
    assert set(replays) == {"invoice", "credit_note"} and replays["invoice"]["records"] == 2
    assert datetime.fromisoformat(replays["invoice"]["from"]) == T - timedelta(days=3)
    command = find_command(kafka_bootstrap, codec, replays["invoice"]["command_id"])
    assert (command["action"], command["record_type"], command["requested_by"]) == ("REPLAY", "invoice", "admin")
    assert command["window_from"] == T - timedelta(days=3)

    # Saving the same settings again replays nothing.
    assert client.put(settings_url(), json={"mode": "live"}, headers=ADMIN).json()["decided_again"] == []


def report_rows(database: str) -> None:
    outcomes = [ShadowOutcome("adelaide", "invoice", str(1000 + n), outcome, detail, message, f"INV-{1000 + n}",
                              "Acme Pty", Decimal("110.00") + n, None, T)
                for n, (outcome, detail, message) in enumerate(
                    [("create", None, "would create the invoice in Xero")] * 3
                    + [("adopt", None, "would adopt it")] * 2
                    + [("exception", "adoption_mismatch", "=HYPERLINK(\"x\") Xero holds another total")])]
    outcomes.append(ShadowOutcome("adelaide", "credit_note", "77", "skip", "before_go_live", "dated before go-live"))
    outcomes.append(ShadowOutcome("sydney", "invoice", "5", "create"))
    with connect(database, autocommit=True) as conn:
        record_outcomes(conn, outcomes)


def test_the_shadow_report_is_paged_filtered_counted_and_exported(client):
    assert client.put(settings_url(), json={"mode": "shadow"}, headers=ADMIN).status_code == 200
    report_rows(client.database)
    viewer = person(client, "viewer")
    url = "/api/organisations/adelaide/shadow-report"

    whole = client.get(url, headers=viewer)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["mode"] == "shadow" and body["shadow_since"] and body["total"] == 7
    assert body["counts"] == {"create": 3, "update": 0, "adopt": 2, "void": 0, "delete": 0, "skip": 1, "wait": 0,
                              "exception": 1}
    assert [(r["record_type"], r["cw_id"]) for r in body["items"][:2]] == [("credit_note", "77"), ("invoice", "1000")]
    assert Decimal(body["items"][1]["total"]) == Decimal("110.00") and body["items"][1]["record_number"] == "INV-1000"

    page = client.get(url, params={"limit": 2, "offset": 2, "record_type": "invoice"}, headers=viewer).json()
    assert [r["cw_id"] for r in page["items"]] == ["1002", "1003"] and page["total"] == 6
    assert page["counts"]["skip"] == 0 and page["counts"]["create"] == 3  # counts follow the record type only
    exceptions = client.get(url, params={"outcome": "exception"}, headers=viewer).json()
    assert [(r["cw_id"], r["detail"]) for r in exceptions["items"]] == [("1005", "adoption_mismatch")]
    assert exceptions["counts"]["create"] == 3
    for params, field in (({"outcome": "maybe"}, "outcome"), ({"record_type": "bill"}, "record_type"),
                          ({"limit": 0}, "limit"), ({"offset": 10 ** 20}, "offset")):
        refused = client.get(url, params=params, headers=viewer)
        assert refused.status_code == 422 and field in refused.text

    exported = client.get(url + ".csv", params={"outcome": "exception"}, headers=viewer)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "shadow-report-adelaide.csv" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1 and rows[0]["cw_id"] == "1005" and rows[0]["total"] == "115.00"
    assert rows[0]["message"].startswith("'=HYPERLINK")  # a spreadsheet keeps it as text
    every = list(csv.DictReader(io.StringIO(client.get(url + ".csv", headers=viewer).text)))
    assert len(every) == 7 and {r["organisation_id"] for r in every} == {"adelaide"}

    # A new shadow run starts with an empty report.
    client.put(settings_url(), json={"mode": "live"}, headers=ADMIN)
    client.put(settings_url(), json={"mode": "shadow"}, headers=ADMIN)
    assert client.get(url, headers=viewer).json()["total"] == 0
