"""Books with a history: invoices and credit notes a previous tool wrote, pre-loaded into an
organisation as Xero would have saved them, costing no rate limit and sending no webhook."""
from __future__ import annotations

from decimal import Decimal

import httpx

from .test_xero_api import contact_id, invoice, org_of, sim  # noqa: F401 (the fixture)


def history(base: str, **body) -> httpx.Response:
    return httpx.post(f"{base}/_sandbox/xero/history", json={"organisation": "adelaide", **body}, timeout=30)


def test_a_previous_tools_documents_are_saved_as_xero_saves_them(sim):
    state, client, base = sim
    heard: list[tuple] = []
    state.listeners.append(lambda *event: heard.append(event))
    note = {"Type": "ACCRECCREDIT", "CreditNoteNumber": "OLD-CN-1", "Contact": {"ContactID": contact_id(state)},
            "Status": "AUTHORISED", "Date": "2026-10-01",
            "LineItems": [{"Description": "Refund", "Quantity": 1, "UnitAmount": 50, "AccountCode": "200",
                           "TaxType": "OUTPUT"}]}
    answer = history(base, invoices=[invoice(state, f"OLD-{n}") for n in range(120)] + [invoice(state, "OLD-1")],
                     credit_notes=[note])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["saved"] == 121
    refused = body["Invoices"][-1]
    assert refused["StatusAttributeString"] == "ERROR" and "unique" in refused["ValidationErrors"][0]["Message"]
    assert body["CreditNotes"][0]["CreditNoteNumber"] == "OLD-CN-1" and body["CreditNotes"][0]["Total"] == 55.0
    assert not heard  # what happened before is not news
    assert len([i for i in org_of(state).invoices.values() if i["InvoiceNumber"].startswith("OLD-")]) == 120

    # Read back through the API as any client would, paged and filtered by number.
    page = client.get("/Invoices", params={"InvoiceNumbers": "OLD-7,OLD-8", "page": 1}).json()
    assert sorted(i["InvoiceNumber"] for i in page["Invoices"]) == ["OLD-7", "OLD-8"]
    assert Decimal(str(page["Invoices"][0]["Total"])) == Decimal("109.99")  # 3 x 33.33 + GST


def test_bad_history_is_refused_naming_the_field(sim):
    _, _, base = sim
    assert "organisation" in history(base, organisation="nowhere").json()["error"]
    bad = history(base, invoices={"InvoiceNumber": "X"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("invoices:")
