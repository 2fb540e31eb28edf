"""GET /api/balances and /api/balances.csv against real Postgres: per organisation and
customer, each difference with its likely cause, filters, and the CSV of the same view."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.common.settings import Settings

TOKEN = "test-token-balances"
AT = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
# (organisation, ConnectWise id, number, customer, CW balance, Xero amount due, Xero payments left unmatched)
INVOICES = [("adelaide", 1, "INV-1", "Acme Pty", "100.00", "100.00", 0),
            ("adelaide", 2, "INV-2", "Acme Pty", "80.00", "30.00", 1),
            ("adelaide", 3, "INV-3", "Bolt Ltd", "10.00", "10.00", 0),
            ("sydney", 4, "INV-4", "Acme Pty", "55.00", "0.00", 0)]


@pytest.fixture
def client(fresh_database, tmp_path):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for org in ("adelaide", "sydney", "holdings"):
            conn.execute("insert into organisations (id, name, tenant_id) values (%s, %s, %s)", (org, org, "t-" + org))
        for org, cw_id, number, customer, cw_balance, due, unmatched in INVOICES:
            xero_id = f"x{cw_id}"
            conn.execute("insert into sync_records (record_type, cw_id, record_number, customer, status,"
                         " organisation_id, xero_id, total) values ('invoice', %s, %s, %s, 'synced', %s, %s, 100)",
                         (str(cw_id), number, customer, org, xero_id))
            conn.execute("insert into cw_invoice_balances (cw_invoice_id, invoice_number, company_name, total, balance)"
                         " values (%s, %s, %s, 100, %s)", (cw_id, number, customer, cw_balance))
            conn.execute("insert into xero_invoice_balances (organisation_id, xero_invoice_id, invoice_number, status,"
                         " total, amount_due, updated_at_xero) values (%s, %s, %s, 'AUTHORISED', 100, %s, %s)",
                         (org, xero_id, number, due, AT))
            if unmatched:
                conn.execute("insert into sync_records (record_type, cw_id, status, organisation_id, snapshot) values"
                             " ('xero_payment', %s, 'exception', %s, %s)",
                             (f"pay-{cw_id}", org, f'{{"invoice_id": "{xero_id}"}}'))
        conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_finished, last_cycle_status) values"
                     " ('xero:payments:adelaide', %s, %s, 'ok')", (AT, AT))
        conn.execute("insert into balance_checks (organisation_id, cycle_finished_at, checked_at, invoices,"
                     " differences, difference_total) values ('adelaide', %s, %s, 3, 1, 50)", (AT, AT))
    settings = Settings(admin_token=TOKEN, postgres_url=fresh_database, data_dir=tmp_path)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


def test_balances_per_organisation_and_customer_with_each_difference_and_its_cause(client):
    body = client.get("/api/balances").json()
    totals = {(c["organisation_id"], c["customer"]): c for c in body["customers"]}
    assert set(totals) == {("adelaide", "Acme Pty"), ("adelaide", "Bolt Ltd"), ("sydney", "Acme Pty")}
    acme = totals[("adelaide", "Acme Pty")]
    assert (acme["invoices"], Decimal(acme["cw_balance"]), Decimal(acme["xero_amount_due"])) == (
        2, Decimal("180.00"), Decimal("130.00"))
    (diff,) = acme["differences"]
    assert (diff["invoice_number"], Decimal(diff["difference"]), diff["cause"]) == ("INV-2", Decimal("50.00"),
                                                                                    "unmatched payment")
    assert totals[("sydney", "Acme Pty")]["differences"][0]["cause"].startswith("unexplained")
    checks = {o["organisation_id"]: o for o in body["organisations"]}
    assert checks["adelaide"]["last_payment_cycle_status"] == "ok" and checks["adelaide"]["differences"] == 1
    assert checks["holdings"]["checked_at"] is None


def test_filters_narrow_the_view(client):
    only = client.get("/api/balances", params={"only_differences": "true"}).json()["customers"]
    assert {(c["organisation_id"], c["customer"]) for c in only} == {("adelaide", "Acme Pty"), ("sydney", "Acme Pty")}
    sydney = client.get("/api/balances", params={"organisation": "sydney"}).json()
    assert [c["customer"] for c in sydney["customers"]] == ["Acme Pty"] and len(sydney["organisations"]) == 1
    bolt = client.get("/api/balances", params={"customer": "bolt"}).json()["customers"]
    assert [c["customer"] for c in bolt] == ["Bolt Ltd"]
    assert client.get("/api/balances", params={"only_differences": "maybe"}).status_code == 422
    assert client.get("/api/balances", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_csv_exports_the_same_view_one_line_per_invoice(client):
    resp = client.get("/api/balances.csv", params={"organisation": "adelaide"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(resp.text)))
    assert [l["invoice_number"] for l in lines] == ["INV-1", "INV-2", "INV-3"]
    assert (lines[1]["difference"], lines[1]["cause"]) == ("50.00", "unmatched payment")
    differing = list(csv.DictReader(io.StringIO(client.get("/api/balances.csv",
                                                           params={"only_differences": "true"}).text)))
    assert [l["invoice_number"] for l in differing] == ["INV-2", "INV-4"]
