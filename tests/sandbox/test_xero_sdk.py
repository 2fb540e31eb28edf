"""The Xero simulator driven by xero-python, Xero's official SDK: its own client
(paths, headers, bodies, token refresh) and its own models (dates, money as
Decimal, status enums) must read every answer, with the right values. Only the
base URLs point at the simulator."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from xero_python.accounting import AccountingApi
from xero_python.accounting import models as x
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, NotFoundException
from xero_python.identity import IdentityApi

from services.common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.payments_mutator import PaymentsMutator
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

TENANT = ORGANISATIONS[0].tenant_id
D = Decimal


@pytest.fixture(scope="module")
def sim():
    state = build_state(generate(7, 0))
    app = create_app(state, limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))
    with serving(app) as base:
        tokens: dict = {}
        config = Configuration(oauth2_token=OAuth2Token(client_id=XERO_CLIENT_ID, client_secret=XERO_CLIENT_SECRET))
        client = ApiClient(config, pool_threads=1, oauth2_token_getter=lambda: tokens.get("token"),
                           oauth2_token_saver=lambda token: tokens.update(token=token))
        client.set_oauth2_token(sign_in(base))
        yield state, base, client, AccountingApi(client, base_url=f"{base}/api.xro/2.0")


@pytest.fixture(scope="module")
def refs(sim):
    state = sim[0]
    org = state.org(TENANT)
    return {"contact": sorted(org.contacts)[0],
            "revenue": next(a["Code"] for a in org.accounts.values() if a["Class"] == "REVENUE"),
            "bank": next(a["Code"] for a in org.accounts.values() if a["Type"] == "BANK")}


def raw(sim, path: str, **params) -> dict:
    """The same answer as plain JSON, for the fields the SDK's models do not read."""
    _, base, client, _ = sim
    token = client.get_oauth2_token()["access_token"]
    reply = httpx.get(f"{base}/api.xro/2.0{path}", params=params,
                      headers={"Authorization": f"Bearer {token}", "xero-tenant-id": TENANT})
    reply.raise_for_status()
    return reply.json()


def sale(refs, number: str, amount: str = "100.00", **extra) -> x.Invoice:
    line = x.LineItem(description="Managed desktop support", quantity=D(1), unit_amount=D(amount),
                      account_code=refs["revenue"], tax_type="OUTPUT")
    return x.Invoice(type="ACCREC", contact=x.Contact(contact_id=refs["contact"]), status="AUTHORISED",
                     invoice_number=number, date=date(2026, 11, 20), due_date=date(2026, 12, 20),
                     line_items=[line], **extra)


def test_connections_as_the_sdk_asks_for_them(sim):
    _, base, client, _ = sim
    connections = IdentityApi(client, base_url=base).get_connections()  # GET {base}/Connections
    assert sorted(c.tenant_id for c in connections) == sorted(str(o.tenant_id) for o in ORGANISATIONS)
    assert {c.tenant_type for c in connections} == {"ORGANISATION"}
    assert all(isinstance(c.created_date_utc, datetime) and c.tenant_name for c in connections)
    token = client.get_oauth2_token()["access_token"]
    lower = httpx.get(f"{base}/connections", headers={"Authorization": f"Bearer {token}"})
    assert lower.status_code == 200 and len(lower.json()) == len(connections)


def test_settings_and_contacts(sim):
    api = sim[3]
    accounts = api.get_accounts(TENANT).accounts
    assert {"090", "200", "610"} <= {a.code for a in accounts}
    assert next(a for a in accounts if a.code == "090").type == x.AccountType.BANK
    rates = {r.tax_type: r for r in api.get_tax_rates(TENANT).tax_rates}
    assert rates["OUTPUT"].effective_rate == D("10") and rates["OUTPUT"].report_tax_type == "OUTPUT"
    assert rates["BASEXCLUDED"].report_tax_type == "BASEXCLUDED"
    categories = api.get_tracking_categories(TENANT).tracking_categories
    assert [c.name for c in categories] == ["Region", "Service Line"]
    assert [o.name for o in categories[0].options] == ["Adelaide", "Sydney", "Melbourne", "Brisbane", "Auckland"]
    contacts = api.get_contacts(TENANT, page=1).contacts
    assert contacts and all(c.contact_status == "ACTIVE" and c.name for c in contacts)


def test_invoices_written_and_read_back(sim, refs):
    api = sim[3]
    before = datetime.now(timezone.utc) - timedelta(days=400)
    created = api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-1")]), summarize_errors=False,
                                  idempotency_key="sdk-create-1")
    invoice = created.invoices[0]
    assert (invoice.status_attribute_string, invoice.status, invoice.has_errors) == ("OK", "AUTHORISED", False)
    assert (invoice.sub_total, invoice.total_tax, invoice.total, invoice.amount_due) == (
        D("100.00"), D("10.00"), D("110.00"), D("110.00"))
    assert (invoice.date, invoice.due_date) == (date(2026, 11, 20), date(2026, 12, 20))
    assert invoice.updated_date_utc.tzinfo is not None
    again = api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-1")]), summarize_errors=False,
                                idempotency_key="sdk-create-1")
    assert again.invoices[0].invoice_id == invoice.invoice_id  # the retry got the first answer

    unknown_account = sale(refs, "SDK-3")
    unknown_account.line_items[0].account_code = "999"
    mixed = api.update_or_create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-2"), unknown_account]),
                                          summarize_errors=False, idempotency_key="sdk-mixed-1")
    good, bad = mixed.invoices
    assert good.status_attribute_string == "OK" and good.invoice_number == "SDK-2"
    assert bad.status_attribute_string == "ERROR" and bad.has_errors and bad.validation_errors[0].message

    found = api.get_invoices(TENANT, where='Status=="AUTHORISED"', page=1, if_modified_since=before,
                             invoice_numbers=["SDK-1", "SDK-2"])
    assert sorted(i.invoice_number for i in found.invoices) == ["SDK-1", "SDK-2"]
    assert found.pagination.page == 1 and found.pagination.item_count == 2
    later = api.get_invoices(TENANT, invoice_numbers=["SDK-1"], if_modified_since=datetime.now(timezone.utc)
                             + timedelta(days=400))
    assert later.invoices == []
    one = api.get_invoice(TENANT, invoice.invoice_id).invoices[0]
    assert one.invoice_number == "SDK-1" and one.updated_date_utc_string.endswith("Z")
    assert one.line_items[0].line_amount == D("100.00") and one.line_items[0].tax_amount == D("10.00")
    text = raw(sim, f"/Invoices/{invoice.invoice_id}")["Invoices"][0]
    assert (text["DateString"], text["DueDateString"]) == ("2026-11-20T00:00:00", "2026-12-20T00:00:00")
    assert text["Date"].startswith("/Date(") and text["HasErrors"] is False
    with pytest.raises(NotFoundException):
        api.get_invoice(TENANT, "00000000-0000-0000-0000-000000000000")


def test_a_refused_batch_is_a_bad_request_the_sdk_explains(sim, refs):
    api = sim[3]
    api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-DUP")]))
    with pytest.raises(AccountingBadRequestException) as refused:
        api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-DUP")]))
    assert refused.value.status == 400 and refused.value.error_data["Type"] == "ValidationException"
    assert refused.value.reason == "Invoice # must be unique."  # read from Elements[0].ValidationErrors[0]


def test_credit_notes_and_their_allocation(sim, refs):
    api = sim[3]
    invoice = api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-CN")])).invoices[0]
    note = x.CreditNote(type="ACCRECCREDIT", contact=x.Contact(contact_id=refs["contact"]), status="AUTHORISED",
                        credit_note_number="SDK-CN-1", date=date(2026, 11, 21),
                        line_items=[x.LineItem(description="Credit", quantity=D(1), unit_amount=D("20.00"),
                                               account_code=refs["revenue"], tax_type="OUTPUT")])
    created = api.create_credit_notes(TENANT, x.CreditNotes(credit_notes=[note]), summarize_errors=False,
                                      idempotency_key="sdk-cn-1").credit_notes[0]
    assert (created.status, created.total, created.remaining_credit) == ("AUTHORISED", D("22.00"), D("22.00"))
    listed = api.get_credit_notes(TENANT, where='CreditNoteNumber=="SDK-CN-1"').credit_notes
    assert [c.credit_note_id for c in listed] == [created.credit_note_id] and listed[0].date == date(2026, 11, 21)
    allocation = x.Allocation(invoice=x.Invoice(invoice_id=invoice.invoice_id), amount=D("22.00"),
                              date=date(2026, 11, 22))
    made = api.create_credit_note_allocation(TENANT, created.credit_note_id, x.Allocations(allocations=[allocation]))
    assert made.allocations[0].amount == D("22.00") and made.allocations[0].date == date(2026, 11, 22)
    note_now = api.get_credit_note(TENANT, created.credit_note_id).credit_notes[0]
    assert (note_now.status, note_now.remaining_credit, note_now.fully_paid_on_date) == (
        "PAID", D("0.00"), date(2026, 11, 22))
    invoice_now = api.get_invoice(TENANT, invoice.invoice_id).invoices[0]
    assert (invoice_now.amount_credited, invoice_now.amount_due) == (D("22.00"), D("88.00"))
    text = raw(sim, f"/CreditNotes/{created.credit_note_id}")["CreditNotes"][0]
    assert text["DateString"] == "2026-11-21T00:00:00" and text["ID"] == created.credit_note_id


def test_payments_created_read_and_deleted(sim, refs):
    api = sim[3]
    invoice = api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-PAY")])).invoices[0]
    payment = x.Payment(invoice=x.Invoice(invoice_id=invoice.invoice_id), account=x.Account(code=refs["bank"]),
                        amount=D("110.00"), date=date(2026, 11, 23), reference="EFT 881")
    made = api.create_payments(TENANT, x.Payments(payments=[payment]), idempotency_key="sdk-pay-1").payments[0]
    assert (made.amount, made.date, made.status, made.payment_type) == (
        D("110.00"), date(2026, 11, 23), "AUTHORISED", "ACCRECPAYMENT")
    paid = api.get_invoice(TENANT, invoice.invoice_id).invoices[0]
    assert (paid.status, paid.amount_paid, paid.amount_due) == ("PAID", D("110.00"), D("0.00"))
    assert paid.fully_paid_on_date == date(2026, 11, 23)  # the payment's date, not the day it was recorded
    assert api.get_payment(TENANT, made.payment_id).payments[0].invoice.invoice_number == "SDK-PAY"
    assert made.payment_id in {p.payment_id for p in api.get_payments(TENANT, page=1).payments}
    assert raw(sim, f"/Payments/{made.payment_id}")["Payments"][0]["UpdatedDateUTCString"].endswith("Z")

    deleted = api.delete_payment(TENANT, made.payment_id, x.PaymentDelete(status="DELETED")).payments[0]
    assert deleted.status == "DELETED"
    reopened = api.get_invoice(TENANT, invoice.invoice_id).invoices[0]
    assert (reopened.status, reopened.amount_due, reopened.fully_paid_on_date) == ("AUTHORISED", D("110.00"), None)


def test_overpayments(sim, refs):
    state, _, _, api = sim
    invoice = api.create_invoices(TENANT, x.Invoices(invoices=[sale(refs, "SDK-OVER")])).invoices[0]
    org = state.org(TENANT)
    with state.lock:
        PaymentsMutator(state, [], per_tick=0).pay(org, org.invoices[invoice.invoice_id], "over", D("150.00"),
                                                   date(2026, 11, 24))
    over = [o for o in api.get_overpayments(TENANT, page=1).overpayments if o.date == date(2026, 11, 24)]
    assert len(over) == 1
    assert (over[0].type, over[0].status, over[0].total, over[0].remaining_credit) == (
        "RECEIVE-OVERPAYMENT", "AUTHORISED", D("40.00"), D("40.00"))
    assert api.get_overpayment(TENANT, over[0].overpayment_id).overpayments[0].contact.contact_id == refs["contact"]


def test_the_sdk_refreshes_its_token_at_the_simulator(sim, monkeypatch):
    _, base, client, api = sim
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{base}/connect/token")
    old = client.get_oauth2_token()
    new = client.refresh_oauth2_token()
    assert new["access_token"] != old["access_token"] and new["refresh_token"] != old["refresh_token"]
    assert api.get_organisations(TENANT).organisations[0].base_currency == x.CurrencyCode.AUD
