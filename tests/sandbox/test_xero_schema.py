"""Every kind of reply the Xero simulator gives validates against Xero's
official OpenAPI document for its operation (read from the shared reference;
CZ_XERO_OPENAPI overrides the path)."""
from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from services.common.sandbox_identity import ORGANISATIONS
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.payments_mutator import PaymentsMutator
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

# The reference folder sits beside the repository (../shared), on a developer's machine and in CI alike.
SPEC = Path(os.environ.get("CZ_XERO_OPENAPI") or
            Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "xero-openapi" / "xero_accounting.yaml")
TENANT = ORGANISATIONS[0].tenant_id


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    # The published document has string defaults on booleans ("false"), which
    # the strict spec validator rejects; the response schemas themselves are fine.
    return OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def sim():
    state = build_state(generate(7, 0))
    app = create_app(state, limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))
    with serving(app) as base:
        token = sign_in(base)["access_token"]
        with httpx.Client(base_url=f"{base}/api.xro/2.0", timeout=10,
                          headers={"Authorization": f"Bearer {token}", "xero-tenant-id": TENANT}) as client:
            yield state, client


def check(openapi: OpenAPI, reply: httpx.Response, template: str | None = None) -> None:
    """Validate one reply against the operation its request matched."""
    url = urlsplit(str(reply.request.url))
    path = url.path.removeprefix("/api.xro/2.0")
    request = MockRequest("https://api.xero.com", reply.request.method.lower(), f"/api.xro/2.0{path}",
                          args=dict(httpx.QueryParams(url.query)),
                          headers={"xero-tenant-id": TENANT, "content-type": "application/json"},
                          data=reply.request.content or None)
    response = MockResponse(reply.content, status_code=reply.status_code, content_type="application/json")
    openapi.validate_response(request, response)


def test_replies_match_the_official_schema(sim, openapi):
    state, client = sim
    org = state.org(TENANT)
    contact = sorted(org.contacts)[0]
    account = next(a for a in org.accounts.values() if a["Class"] == "REVENUE")
    tax = next(t for t in org.tax_rates.values() if t["CanApplyToRevenue"] and t["EffectiveRate"] > 0)
    bank = next(a for a in org.accounts.values() if a["Type"] == "BANK")
    category = org.tracking[0]
    line = {"Description": "Managed services", "Quantity": 2, "UnitAmount": "45.50", "AccountCode": account["Code"],
            "TaxType": tax["TaxType"], "Tracking": [{"Name": category["Name"],
                                                     "Option": category["Options"][0]["Name"]}]}
    invoice = {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Status": "AUTHORISED",
               "InvoiceNumber": "SCHEMA-1", "Date": "2026-11-20", "DueDate": "2026-12-20", "LineItems": [line]}
    replies = []
    created = client.put("/Invoices", json={"Invoices": [invoice]})
    replies.append(created)
    invoice_id = created.json()["Invoices"][0]["InvoiceID"]
    replies.append(client.put("/Invoices", json={"Invoices": [invoice]}))  # 400 validation
    replies.append(client.put("/Invoices", params={"summarizeErrors": "false"},
                              json={"Invoices": [dict(invoice, InvoiceNumber="SCHEMA-2"), invoice]}))
    replies.append(client.post("/Invoices", json={"Invoices": [dict(invoice, InvoiceNumber="SCHEMA-3")]}))
    replies.append(client.post(f"/Invoices/{invoice_id}", json={"Invoices": [{"Reference": "updated"}]}))
    replies.append(client.get("/Invoices", params={"page": 1, "where": 'Status=="AUTHORISED"'}))
    replies.append(client.get(f"/Invoices/{invoice_id}"))
    replies.append(client.get("/Invoices", params={"Statuses": "AUTHORISED,PAID", "order": "InvoiceNumber DESC"},
                              headers={"If-Modified-Since": "2026-01-01T00:00:00"}))
    note = {"Type": "ACCRECCREDIT", "Contact": {"ContactID": contact}, "Status": "AUTHORISED",
            "LineItems": [dict(line, Quantity=1, UnitAmount=10)]}
    credit = client.put("/CreditNotes", json={"CreditNotes": [note]})
    replies.append(credit)
    credit_id = credit.json()["CreditNotes"][0]["CreditNoteID"]
    replies.append(client.put(f"/CreditNotes/{credit_id}/Allocations", json={"Allocations": [
        {"Invoice": {"InvoiceID": invoice_id}, "Amount": 5, "Date": "2026-11-21"}]}))
    replies.append(client.post("/CreditNotes", json={"CreditNotes": [dict(note, Status="DRAFT")]}))
    replies.append(client.get("/CreditNotes", params={"page": 1}))
    replies.append(client.get(f"/CreditNotes/{credit_id}"))
    payment = client.put("/Payments", json={"Payments": [{"Invoice": {"InvoiceID": invoice_id},
                                                          "Account": {"Code": bank["Code"]}, "Amount": 20}]})
    replies.append(payment)
    payment_id = payment.json()["Payments"][0]["PaymentID"]
    replies.append(client.put("/Payments", json={"Payments": [{"Invoice": {"InvoiceID": invoice_id},
                                                               "Account": {"Code": bank["Code"]}, "Amount": 99999}]}))
    replies.append(client.get("/Payments", params={"page": 1}))
    replies.append(client.get(f"/Payments/{payment_id}"))
    replies.append(client.get("/Payments", params={"where": 'Invoice.InvoiceNumber=="SCHEMA-1"'}))
    replies.append(client.post(f"/Payments/{payment_id}", json={"Payments": [{"Status": "DELETED"}]}))
    mutator = PaymentsMutator(state, [], per_tick=0)
    with state.lock:
        mutator.pay(org, org.invoices[invoice_id], "over", Decimal("500"), None)
    replies.append(client.get("/Overpayments", params={"page": 1}))
    replies.append(client.get(f"/Overpayments/{next(iter(org.overpayments))}"))
    replies.append(client.get("/Contacts", params={"page": 1}))
    replies.append(client.get(f"/Contacts/{contact}"))
    replies.append(client.put("/Contacts", json={"Contacts": [{"Name": "Schema Test Pty Ltd", "ContactNumber": "ST1"}]}))
    replies.append(client.post("/Contacts", params={"summarizeErrors": "false"},
                               json={"Contacts": [{"Name": "Schema Test Pty Ltd"}, {"Name": "Another Pty Ltd"}]}))
    replies.append(client.put("/Contacts", json={"Contacts": [{"Name": "Schema Test Pty Ltd"}]}))
    replies.append(client.get("/Accounts"))
    replies.append(client.get(f"/Accounts/{account['AccountID']}"))
    replies.append(client.get("/TaxRates"))
    replies.append(client.get("/TrackingCategories"))
    replies.append(client.get(f"/TrackingCategories/{category['TrackingCategoryID']}"))
    replies.append(client.get("/Organisation"))
    statuses = [r.status_code for r in replies]
    assert statuses.count(400) == 3 and set(statuses) == {200, 400}, statuses
    for reply in replies:
        check(openapi, reply)
