"""The Xero simulator's books, as Xero publishes them: currencies and rates, lock dates,
a line's TaxAmount given by the client, and an approved document of nothing paid at once."""
from __future__ import annotations

from decimal import Decimal

import httpx

from .test_xero_api import invoice, org_of, put, sim  # noqa: F401 (the fixture)


def books(base: str, **body) -> dict:
    resp = httpx.post(f"{base}/_sandbox/xero/books", json={"organisation": "adelaide", **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_currencies_and_lock_dates_are_shown_once_set(sim):
    state, client, base = sim
    assert client.get("/Currencies").json()["Currencies"] == [{"Code": "AUD", "Description": "Australian Dollar"}]
    assert "PeriodLockDate" not in client.get("/Organisation").json()["Organisations"][0]
    books(base, currencies=["NZD", "USD"], period_lock_date="2026-10-31", end_of_year_lock_date="2026-06-30")
    assert [c["Code"] for c in client.get("/Currencies").json()["Currencies"]] == ["AUD", "NZD", "USD"]
    organisation = client.get("/Organisation").json()["Organisations"][0]
    assert organisation["BaseCurrency"] == "AUD" and organisation["PeriodLockDate"].startswith("/Date(1793404800000")
    bad = httpx.post(f"{base}/_sandbox/xero/books", json={"organisation": "adelaide", "currencies": ["XYZ"]})
    assert bad.status_code == 400 and "currencies" in bad.json()["error"]


def test_nothing_approved_may_be_dated_on_or_before_the_lock_date(sim):
    state, client, base = sim
    books(base, period_lock_date="2026-11-20")
    refused = put(client, [invoice(state, "LOCK-1")])
    assert refused.status_code == 400
    message = refused.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert message == "The document date cannot be before the period lock date, currently set at 20-Nov-2026"
    assert put(client, [invoice(state, "LOCK-2", status="DRAFT")]).status_code == 200
    assert put(client, [invoice(state, "LOCK-3", Date="2026-11-21", DueDate="2026-12-21")]).status_code == 200


def test_another_currency_needs_enabling_and_keeps_the_rate_given(sim):
    state, client, base = sim
    refused = put(client, [invoice(state, "FX-1", CurrencyCode="NZD", CurrencyRate=1.1)])
    assert "'NZD' is not enabled" in refused.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    books(base, currencies=["NZD"])
    given = put(client, [invoice(state, "FX-2", CurrencyCode="NZD", CurrencyRate="1.0987")]).json()["Invoices"][0]
    day = put(client, [invoice(state, "FX-3", CurrencyCode="NZD")]).json()["Invoices"][0]
    base_ccy = put(client, [invoice(state, "FX-4")]).json()["Invoices"][0]
    assert (given["CurrencyCode"], Decimal(str(given["CurrencyRate"]))) == ("NZD", Decimal("1.0987"))
    assert Decimal(str(day["CurrencyRate"])) == Decimal("1.098684")  # 1.67 / 1.52, Xero's rate of the day
    assert (base_ccy["CurrencyCode"], base_ccy["CurrencyRate"]) == ("AUD", 1.0)


def test_a_line_tax_amount_given_is_kept_and_an_approved_zero_invoice_is_paid(sim):
    state, client, _ = sim
    body = invoice(state, "TAX-1")
    body["LineItems"][0]["TaxAmount"] = "10.01"  # Xero would compute 10.00 on 99.99
    saved = put(client, [body]).json()["Invoices"][0]
    assert saved["TotalTax"] == 10.01 and saved["Total"] == 110.0 and saved["LineItems"][0]["TaxAmount"] == 10.01
    nothing = invoice(state, "ZERO-1")
    nothing["LineItems"][0]["UnitAmount"] = 0
    paid = put(client, [nothing]).json()["Invoices"][0]
    assert paid["Status"] == "PAID" and paid["Total"] == 0
    edit = client.post("/Invoices", json={"Invoices": [{"InvoiceID": paid["InvoiceID"], "Reference": "changed"}]})
    assert edit.status_code == 400  # from then on Xero refuses every change
