"""The console's go-live and shadow-run page of an organisation, through the whole admin app on
real Postgres and the real broker: the settings form (an admin saves it, in their name; a bad
value is named and changes nothing; a viewer reads it disabled and cannot post it), going live
from it replays the shadow run's records, and the shadow report with its counts, filter and CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
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

TOKEN = "console-books-token"
BOOTSTRAP = {"Authorization": f"Bearer {TOKEN}"}
T = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
PAGE = "/organisations/adelaide/books"


@pytest.fixture
def client(kafka_bootstrap, fresh_database, tmp_path):
    settings = Settings(admin_token=TOKEN, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        data_dir=tmp_path)
    with TestClient(create_app(settings), base_url="http://console.test") as http:
        assert http.post("/api/organisations", json={"id": "adelaide", "name": "Harbour IT Adelaide",
                                                     "tenant_id": "t-adelaide"}, headers=BOOTSTRAP).status_code == 201
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("insert into xero_accounts (organisation_id, code, name, class, status) values"
                         " ('adelaide', '860', 'Rounding', 'EXPENSE', 'ACTIVE'),"
                         " ('adelaide', '861', 'Old rounding', 'EXPENSE', 'ARCHIVED')")
        http.database = fresh_database
        yield http


def sign_in_as(client: TestClient, role: str) -> str:
    """Signs the client in as a new user of that role; answers the page's CSRF token."""
    added = client.post("/api/users", json={"name": f"{role}-person", "role": role}, headers=BOOTSTRAP)
    assert added.status_code == 201, added.text
    assert client.post("/signin", data={"token": added.json()["token"], "next": PAGE},
                       follow_redirects=False).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


FORM = {"go_live_date": "2026-11-01", "mode": "shadow", "lock_date_treatment": "first_open_day",
        "rounding_account_code": "860", "customer_details": "on"}


def test_an_admin_saves_the_settings_in_their_name_and_a_bad_value_changes_nothing(client):
    csrf = sign_in_as(client, "admin")
    page = client.get(PAGE).text
    assert "Harbour IT Adelaide: go-live and shadow run" in page and 'id="books-mode">live<' in page
    assert '<option value="860">860 – Rounding</option>' in page and "861" not in page  # active accounts only
    assert 'href="/organisations/adelaide/books"' in client.get("/organisations/adelaide").text

    for bad, field in (({"mode": "dry"}, "mode"), ({"go_live_date": "1 Nov"}, "go_live_date"),
                       ({"rounding_account_code": "999"}, "rounding_account_code")):
        refused = client.post(PAGE + "/settings", data={**FORM, **bad, "csrf_token": csrf})
        assert refused.status_code == 422 and field in refused.text, refused.text
        assert 'role="alert"' in refused.text
    assert client.get("/api/organisations/adelaide/sync-settings", headers=BOOTSTRAP).json()["mode"] == "live"

    saved = client.post(PAGE + "/settings", data={**FORM, "csrf_token": csrf}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == PAGE + "?saved=1"
    stored = client.get("/api/organisations/adelaide/sync-settings", headers=BOOTSTRAP).json()
    assert (stored["go_live_date"], stored["mode"], stored["lock_date_treatment"], stored["rounding_account_code"],
            stored["customer_details"]) == ("2026-11-01", "shadow", "first_open_day", "860", True)
    page = client.get(saved.headers["location"]).text
    assert "Saved" in page and 'value="2026-11-01"' in page and 'id="books-mode">shadow<' in page
    assert "The shadow run began" in page
    # An unticked box is "no".
    form = {k: v for k, v in FORM.items() if k != "customer_details"}
    assert client.post(PAGE + "/settings", data={**form, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    history = client.get("/api/config/changes", params={"table": "organisation_sync_settings"},
                         headers=BOOTSTRAP).json()
    assert [c["actor"] for c in history] == ["admin-person", "admin-person"]
    assert history[0]["after"]["customer_details"] is False


def test_a_viewer_reads_the_form_disabled_and_cannot_post_it(client):
    csrf = sign_in_as(client, "viewer")
    page = client.get(PAGE).text
    assert 'id="mode" disabled' in page and 'id="save-sync-settings"' not in page
    refused = client.post(PAGE + "/settings", data={**FORM, "csrf_token": csrf})
    assert refused.status_code == 403 and "admin" in refused.text
    assert client.get("/api/organisations/adelaide/sync-settings", headers=BOOTSTRAP).json()["mode"] == "live"
    assert client.get("/organisations/nowhere/books").status_code == 404


def test_going_live_from_the_page_says_how_many_records_are_decided_again(client):
    csrf = sign_in_as(client, "admin")
    assert client.post(PAGE + "/settings", data={**FORM, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    with connect(client.database, autocommit=True) as conn:
        for cw_id in ("1001", "1002"):
            record_changes(conn, [
                StatusChange("invoice", cw_id, Event.OBSERVED, observed_at=T, content=Content("h" + cw_id, T, None)),
                StatusChange("invoice", cw_id, Event.SHADOWED, observed_at=T, organisation_id="adelaide")])
    live = client.post(PAGE + "/settings", data={**FORM, "mode": "live", "csrf_token": csrf}, follow_redirects=False)
    assert live.status_code == 303 and live.headers["location"] == PAGE + "?saved=1&again=2"
    assert "2 records decided before are being read from ConnectWise again" in client.get(live.headers["location"]).text


def test_the_shadow_report_shows_counts_filters_and_exports_its_view(client):
    csrf = sign_in_as(client, "admin")
    assert client.post(PAGE + "/settings", data={**FORM, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    with connect(client.database, autocommit=True) as conn:
        record_outcomes(conn, [
            ShadowOutcome("adelaide", "invoice", "1001", "adopt", None, "would adopt 9f1c, the invoice Xero holds",
                          "INV-1001", "Acme Pty", Decimal("1234.50"), "9f1c0000-0000-0000-0000-000000000000", T),
            ShadowOutcome("adelaide", "invoice", "1002", "create", None, "would create the invoice in Xero",
                          "INV-1002", "Acme Pty", Decimal("10"), None, T),
            ShadowOutcome("adelaide", "invoice", "1003", "exception", "adoption_mismatch",
                          "INV-1003 in Xero totals 99.00, ConnectWise 100.00", "INV-1003", "Bluegum Dental",
                          Decimal("100"), None, T)])
    page = client.get(PAGE).text
    assert 'id="count-adopt">1<' in page and 'id="count-create">1<' in page and 'id="count-exception">1<' in page
    assert 'id="count-update">0<' in page
    assert "INV-1001" in page and "1,234.50" in page and "adoption_mismatch" in page

    only = client.get(PAGE, params={"outcome": "exception"}).text
    assert "INV-1003" in only and "INV-1001" not in only
    assert 'href="/organisations/adelaide/books/shadow-report.csv?outcome=exception"' in only
    exported = client.get("/organisations/adelaide/books/shadow-report.csv", params={"outcome": "exception"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["record_number"], r["outcome"], r["detail"]) for r in rows] == [
        ("INV-1003", "exception", "adoption_mismatch")]
    assert "Nothing in the report for this filter" in client.get(PAGE, params={"outcome": "void"}).text
