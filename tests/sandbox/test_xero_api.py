"""The Xero simulator over real HTTP, as the product drives it: totals,
validation, summarizeErrors both ways, status rules, payments, allocations,
idempotency, paging, filters and If-Modified-Since."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from services.common.sandbox_identity import ORGANISATIONS
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

TENANT = ORGANISATIONS[0].tenant_id


@pytest.fixture()
def sim():
    state = build_state(generate(7, 0))
    app = create_app(state, limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))
    with serving(app) as base:
        token = sign_in(base)["access_token"]
        client = httpx.Client(base_url=f"{base}/api.xro/2.0", timeout=10,
                              headers={"Authorization": f"Bearer {token}", "xero-tenant-id": TENANT,
                                       "Accept": "application/json"})
        yield state, client, base
        client.close()


def org_of(state):
    return state.org(TENANT)


def contact_id(state) -> str:
    return sorted(org_of(state).contacts)[0]


def revenue(state) -> tuple[str, str]:
    """A revenue account code and a tax type valid on it."""
    org = org_of(state)
    account = next(a for a in org.accounts.values() if a["Class"] == "REVENUE")
    tax = next(t for t in org.tax_rates.values() if t["CanApplyToRevenue"] and t["EffectiveRate"] > 0)
    return account["Code"], tax["TaxType"]


def invoice(state, number: str | None = None, status: str = "AUTHORISED", **extra) -> dict:
    code, tax = revenue(state)
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact_id(state)}, "Status": status,
            "Date": "2026-11-20", "DueDate": "2026-12-20",
            "LineItems": [{"Description": "Managed services", "Quantity": 3, "UnitAmount": 33.33,
                           "AccountCode": code, "TaxType": tax}]}
    if number:
        body["InvoiceNumber"] = number
    body.update(extra)
    return body


def put(client, payload, **params):
    return client.put("/Invoices", json={"Invoices": payload}, params=params)


def test_totals_recomputed_to_the_cent(sim):
    state, client, _ = sim
    code, tax = revenue(state)
    rate = org_of(state).tax_rates[tax]["EffectiveRate"]
    lines = [{"Description": "a", "Quantity": 3, "UnitAmount": "33.33", "AccountCode": code, "TaxType": tax},
             {"Description": "b", "Quantity": "1.5", "UnitAmount": "19.99", "DiscountRate": 10,
              "AccountCode": code, "TaxType": tax}]
    reply = put(client, [invoice(state, "T-1", LineItems=lines, SubTotal=1, Total=2)])
    assert reply.status_code == 200, reply.text
    doc = reply.json()["Invoices"][0]
    first, second = Decimal("99.99"), (Decimal("1.5") * Decimal("19.99") * Decimal("0.9")).quantize(Decimal("0.01"))
    tax_total = sum(((x * rate / 100).quantize(Decimal("0.01")) for x in (first, second)), Decimal(0))
    assert Decimal(str(doc["SubTotal"])) == first + second
    assert Decimal(str(doc["TotalTax"])) == tax_total
    assert Decimal(str(doc["Total"])) == first + second + tax_total
    assert Decimal(str(doc["AmountDue"])) == first + second + tax_total
    assert doc["AmountPaid"] == 0 and doc["AmountCredited"] == 0
    assert doc["UpdatedDateUTC"].startswith("/Date(") and doc["UpdatedDateUTC"].endswith("+0000)/")

    inclusive = put(client, [invoice(state, "T-2", LineAmountTypes="Inclusive",
                                     LineItems=[dict(lines[0], Quantity=1, UnitAmount="110.00")])]).json()
    doc = inclusive["Invoices"][0]
    expected_tax = (Decimal("110.00") - Decimal("110.00") * 100 / (100 + rate)).quantize(Decimal("0.01"))
    assert Decimal(str(doc["TotalTax"])) == expected_tax
    assert Decimal(str(doc["Total"])) == Decimal("110.00")
    no_tax = put(client, [invoice(state, "T-3", LineAmountTypes="NoTax")]).json()["Invoices"][0]
    assert no_tax["TotalTax"] == 0 and Decimal(str(no_tax["Total"])) == Decimal("99.99")


def test_summarize_errors_true_saves_nothing(sim):
    state, client, _ = sim
    before = len(org_of(state).invoices)
    reply = put(client, [invoice(state, "S-1"), invoice(state, "S-2", LineItems=[
        {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "999"}])])
    assert reply.status_code == 400
    body = reply.json()
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    assert body["Message"] == "A validation exception occurred"
    messages = [[e["Message"] for e in el["ValidationErrors"]] for el in body["Elements"]]
    assert messages == [[], ["Account code '999' is not a valid code for this document."]]
    assert len(org_of(state).invoices) == before


def test_summarize_errors_false_returns_each_element_and_saves_good_ones(sim):
    state, client, _ = sim
    code, _ = revenue(state)
    bad_tax = next(t["TaxType"] for t in org_of(state).tax_rates.values() if not t["CanApplyToRevenue"])
    elements = [invoice(state, "F-1"),
                invoice(state, "F-2", LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 5,
                                                  "AccountCode": code, "TaxType": bad_tax}]),
                invoice(state, "F-3", Contact={"ContactID": "00000000-0000-0000-0000-000000000001"}),
                invoice(state, "F-1"),
                invoice(state, "F-5", LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 5,
                                                  "AccountCode": code,
                                                  "Tracking": [{"Name": "Region", "Option": "Atlantis"}]}])]
    reply = put(client, elements, summarizeErrors="false")
    assert reply.status_code == 200
    out = reply.json()["Invoices"]
    assert [e["StatusAttributeString"] for e in out] == ["OK", "ERROR", "ERROR", "ERROR", "ERROR"]
    assert out[1]["ValidationErrors"] == [
        {"Message": f"The TaxType code '{bad_tax}' cannot be used with account code '{code}'."}]
    assert "could not be found" in out[2]["ValidationErrors"][0]["Message"]
    assert out[3]["ValidationErrors"] == [{"Message": "Invoice # must be unique."}]
    assert "Atlantis" in out[4]["ValidationErrors"][0]["Message"]
    numbers = {i["InvoiceNumber"] for i in org_of(state).invoices.values()}
    assert "F-1" in numbers and not numbers & {"F-2", "F-3", "F-5"}
    assert client.get("/Invoices/F-1").json()["Invoices"][0]["InvoiceID"] == out[0]["InvoiceID"]


def test_status_rules(sim):
    state, client, _ = sim
    draft = put(client, [invoice(state, "R-1", status="DRAFT")]).json()["Invoices"][0]
    deleted = client.post(f"/Invoices/{draft['InvoiceID']}", json={"Invoices": [{"Status": "DELETED"}]})
    assert deleted.status_code == 200 and deleted.json()["Invoices"][0]["Status"] == "DELETED"

    approved = put(client, [invoice(state, "R-2")]).json()["Invoices"][0]
    refused = client.post(f"/Invoices/{approved['InvoiceID']}", json={"Invoices": [{"Status": "DELETED"}]})
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Invoice not of valid status for modification"

    bank = next(a["Code"] for a in org_of(state).accounts.values() if a["Type"] == "BANK")
    paid = client.put("/Payments", json={"Payments": [{"Invoice": {"InvoiceID": approved["InvoiceID"]},
                                                       "Account": {"Code": bank}, "Amount": 10,
                                                       "Date": "2026-11-21"}]})
    assert paid.status_code == 200, paid.text
    payment_id = paid.json()["Payments"][0]["PaymentID"]
    void = client.post(f"/Invoices/{approved['InvoiceID']}", json={"Invoices": [{"Status": "VOIDED"}]})
    assert void.status_code == 400
    assert "payment" in void.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    removed = client.post(f"/Payments/{payment_id}", json={"Payments": [{"Status": "DELETED"}]})
    assert removed.status_code == 200 and removed.json()["Payments"][0]["Status"] == "DELETED"
    void = client.post(f"/Invoices/{approved['InvoiceID']}", json={"Invoices": [{"Status": "VOIDED"}]})
    assert void.status_code == 200 and void.json()["Invoices"][0]["Status"] == "VOIDED"
    back = client.post(f"/Invoices/{approved['InvoiceID']}", json={"Invoices": [{"Status": "AUTHORISED"}]})
    assert back.status_code == 400


def test_payments_full_and_over_the_amount_due(sim):
    state, client, _ = sim
    doc = put(client, [invoice(state, "P-1")]).json()["Invoices"][0]
    bank = next(a["Code"] for a in org_of(state).accounts.values() if a["Type"] == "BANK")
    due = Decimal(str(doc["AmountDue"]))
    too_much = client.put("/Payments", json={"Payments": [{"Invoice": {"InvoiceID": doc["InvoiceID"]},
                                                           "Account": {"Code": bank}, "Amount": str(due + 1)}]})
    assert too_much.status_code == 400
    assert too_much.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Payment amount exceeds the amount outstanding on this document"
    full = client.put("/Payments", json={"Payments": [{"Invoice": {"InvoiceNumber": "P-1"},
                                                       "Account": {"Code": bank}, "Amount": str(due)}]})
    assert full.status_code == 200, full.text
    after = client.get(f"/Invoices/{doc['InvoiceID']}").json()["Invoices"][0]
    assert after["Status"] == "PAID" and after["AmountDue"] == 0 and Decimal(str(after["AmountPaid"])) == due
    edit = client.post(f"/Invoices/{doc['InvoiceID']}", json={"Invoices": [{"Reference": "changed"}]})
    assert edit.status_code == 400


def test_credit_note_allocation(sim):
    state, client, _ = sim
    target = put(client, [invoice(state, "C-1")]).json()["Invoices"][0]
    note = dict(invoice(state), Type="ACCRECCREDIT", CreditNoteNumber="CN-9")
    note["LineItems"] = [dict(note["LineItems"][0], Quantity=1, UnitAmount=10)]
    created = client.put("/CreditNotes", json={"CreditNotes": [note]})
    assert created.status_code == 200, created.text
    credit = created.json()["CreditNotes"][0]
    allocated = client.put(f"/CreditNotes/{credit['CreditNoteID']}/Allocations",
                           json={"Allocations": [{"Invoice": {"InvoiceID": target["InvoiceID"]},
                                                  "Amount": credit["Total"], "Date": "2026-11-22"}]})
    assert allocated.status_code == 200, allocated.text
    inv = client.get(f"/Invoices/{target['InvoiceID']}").json()["Invoices"][0]
    assert Decimal(str(inv["AmountCredited"])) == Decimal(str(credit["Total"]))
    assert Decimal(str(inv["AmountDue"])) == Decimal(str(target["Total"])) - Decimal(str(credit["Total"]))
    cn = client.get(f"/CreditNotes/{credit['CreditNoteID']}").json()["CreditNotes"][0]
    assert cn["RemainingCredit"] == 0 and cn["Status"] == "PAID"


def test_idempotent_retry_returns_first_response(sim):
    state, client, _ = sim
    before = len(org_of(state).invoices)
    headers = {"Idempotency-Key": "retry-key-1"}
    body = {"Invoices": [invoice(state)]}  # no number: a blind retry would make a second invoice
    first = client.put("/Invoices", json=body, headers=headers)
    second = client.put("/Invoices", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(org_of(state).invoices) == before + 1
    other = client.put("/Invoices", json=body, headers={"Idempotency-Key": "retry-key-2"})
    assert other.json()["Invoices"][0]["InvoiceID"] != first.json()["Invoices"][0]["InvoiceID"]
    state.clock.advance(16 * 60)  # past the 15-minute window the key is forgotten
    third = client.put("/Invoices", json=body, headers=headers)
    assert third.json()["Invoices"][0]["InvoiceID"] != first.json()["Invoices"][0]["InvoiceID"]
    assert len(org_of(state).invoices) == before + 3
    long_key = client.put("/Invoices", json=body, headers={"Idempotency-Key": "k" * 129})
    assert long_key.status_code == 400


def test_paging_filters_and_order(sim):
    state, client, _ = sim
    for batch in range(5):
        reply = put(client, [invoice(state, f"PG-{batch * 50 + i:04d}", status="DRAFT" if i % 5 == 0 else "AUTHORISED")
                             for i in range(50)])
        assert reply.status_code == 200
    where = 'InvoiceNumber.StartsWith("PG-") AND Type=="ACCREC"'
    seen, page = [], 1
    while True:
        body = client.get("/Invoices", params={"where": where, "page": page, "pageSize": 100,
                                               "order": "InvoiceNumber DESC"}).json()
        assert body["pagination"] == {"page": page, "pageSize": 100, "pageCount": 3, "itemCount": 250}
        if not body["Invoices"]:
            break
        seen += [i["InvoiceNumber"] for i in body["Invoices"]]
        page += 1
    assert seen == sorted(seen, reverse=True) and len(seen) == 250
    drafts = client.get("/Invoices", params={"where": f'({where}) AND Status=="DRAFT"', "page": 1}).json()
    assert drafts["pagination"]["itemCount"] == 50
    by_status = client.get("/Invoices", params={"Statuses": "DRAFT", "InvoiceNumbers": "PG-0000,PG-0001"}).json()
    assert [i["InvoiceNumber"] for i in by_status["Invoices"]] == ["PG-0000"]
    cid = contact_id(state)
    by_contact = client.get("/Invoices", params={"where": f'Contact.ContactID==guid("{cid}") OR Status=="VOIDED"',
                                                 "page": 1, "pageSize": 1000}).json()
    assert by_contact["pagination"]["itemCount"] == 250
    capped = client.get("/Invoices", params={"page": 1, "pageSize": 5000}).json()
    assert capped["pagination"]["pageSize"] == 1000


def test_if_modified_since(sim):
    state, client, _ = sim
    old = put(client, [invoice(state, "M-1")]).json()["Invoices"][0]
    state.clock.advance(5)
    since = state.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    state.clock.advance(2)
    new = put(client, [invoice(state, "M-2")]).json()["Invoices"][0]
    changed = client.get("/Invoices", headers={"If-Modified-Since": since}).json()["Invoices"]
    assert [i["InvoiceID"] for i in changed] == [new["InvoiceID"]]
    state.clock.advance(2)
    client.post(f"/Invoices/{old['InvoiceID']}", json={"Invoices": [{"Reference": "edited"}]})
    changed = client.get("/Invoices", headers={"If-Modified-Since": since}).json()["Invoices"]
    assert {i["InvoiceID"] for i in changed} == {old["InvoiceID"], new["InvoiceID"]}


def test_post_updates_by_invoice_number(sim):
    state, client, _ = sim
    created = client.post("/Invoices", json={"Invoices": [invoice(state, "U-1", status="DRAFT")]}).json()
    again = client.post("/Invoices", json={"Invoices": [{"InvoiceNumber": "U-1", "Type": "ACCREC",
                                                         "Reference": "second"}]}).json()
    assert again["Invoices"][0]["InvoiceID"] == created["Invoices"][0]["InvoiceID"]
    assert again["Invoices"][0]["Reference"] == "second"


def test_tenant_and_token_are_required(sim):
    state, client, base = sim
    assert httpx.get(f"{base}/api.xro/2.0/Invoices", headers={"xero-tenant-id": TENANT}).status_code == 401
    missing = client.get("/Invoices", headers={"xero-tenant-id": ""})
    assert missing.status_code == 403
    unknown = client.get("/Invoices", headers={"xero-tenant-id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 403


def test_faults_switched_at_run_time(sim):
    state, client, base = sim
    assert httpx.post(f"{base}/_sandbox/faults", json={"fail_validation": {"invoices": 1}}).status_code == 200
    reply = put(client, [invoice(state, "FAULT-1"), invoice(state, "FAULT-2")], summarizeErrors="false")
    assert [e["StatusAttributeString"] for e in reply.json()["Invoices"]] == ["ERROR", "OK"]
    assert put(client, [invoice(state, "FAULT-1")]).status_code == 200  # only the next one failed
    assert httpx.post(f"{base}/_sandbox/faults", json={"storm_429": 2, "retry_after_seconds": 7}).status_code == 200
    storm = [client.get("/Contacts") for _ in range(3)]
    assert [r.status_code for r in storm] == [429, 429, 200]
    assert storm[0].headers["Retry-After"] == "7"
    assert httpx.post(f"{base}/_sandbox/faults", json={"error_rate": 2}).status_code == 400
    assert httpx.get(f"{base}/_sandbox/state").json()["faults"]["storm_429"] == 0


def test_contact_by_name_and_filters_on_rendered_fields(sim):
    state, client, _ = sim
    existing = org_of(state).contacts[contact_id(state)]
    by_name = put(client, [invoice(state, "N-1", Contact={"Name": existing["Name"]}),
                           invoice(state, "N-2", Contact={"Name": "Brand New Customer Pty Ltd"})])
    assert by_name.status_code == 200, by_name.text
    first, second = by_name.json()["Invoices"]
    assert first["Contact"]["ContactID"] == existing["ContactID"]
    created = client.get(f"/Contacts/{second['Contact']['ContactID']}").json()["Contacts"][0]
    assert created["Name"] == "Brand New Customer Pty Ltd"
    found = client.get("/Invoices", params={"where": 'Contact.Name=="Brand New Customer Pty Ltd"'}).json()
    assert [i["InvoiceNumber"] for i in found["Invoices"]] == ["N-2"]
    unknown_number = put(client, [invoice(state, "N-3", Contact={"ContactNumber": "NO-SUCH-NUMBER"})])
    assert unknown_number.status_code == 400
    assert "NO-SUCH-NUMBER" in unknown_number.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    # A contact created from a document has no number: naming it again with a number it lacks finds it by name
    # (Xero keeps names unique), never a second contact of the same name.
    again = put(client, [invoice(state, "N-4", Contact={"Name": "Brand New Customer Pty Ltd", "ContactNumber": "X-9"})])
    assert again.status_code == 200, again.text
    assert again.json()["Invoices"][0]["Contact"]["ContactID"] == second["Contact"]["ContactID"]
    named = [c for c in org_of(state).contacts.values() if c["Name"] == "Brand New Customer Pty Ltd"]
    assert len(named) == 1


@pytest.mark.parametrize("account_type,tax_type,accepted", [
    ("DIRECTCOSTS", "INPUT", True), ("EXPENSE", "INPUT", True), ("DIRECTCOSTS", "OUTPUT", False)])
def test_tax_type_is_checked_against_the_account_class_on_bills(sim, account_type, tax_type, accepted):
    state, client, _ = sim
    code = next(a["Code"] for a in org_of(state).accounts.values() if a["Type"] == account_type)
    bill = {"Type": "ACCPAY", "Contact": {"ContactID": contact_id(state)}, "Status": "DRAFT", "Date": "2026-11-20",
            "InvoiceNumber": f"BILL-{account_type}-{tax_type}",
            "LineItems": [{"Description": "Laptops", "Quantity": 2, "UnitAmount": 1200, "AccountCode": code, "TaxType": tax_type}]}
    out = put(client, [bill], summarizeErrors="false").json()["Invoices"][0]
    assert out["StatusAttributeString"] == ("OK" if accepted else "ERROR"), out.get("ValidationErrors")
    if not accepted:
        assert out["ValidationErrors"] == [{"Message": f"The TaxType code '{tax_type}' cannot be used with account code '{code}'."}]
