"""Money under ConnectWise invoices: credit memos applied to the invoice they settle
and refunds against credit memos, as published Payment records that move both
invoices' payments, credits and balance (see services/sandbox/connectwise/money.py)."""
import json
from decimal import Decimal

import pytest

from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock, Server

pytestmark = pytest.mark.integration

D = Decimal


@pytest.fixture(scope="module")
def clock():
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock):
    state = CwState.from_seed(7, 0, clock=clock)
    with Server(create_app(state)) as srv:
        srv.state = state
        yield srv


@pytest.fixture
def cw(server):
    with server.client() as client:
        yield client


def get(cw, path):
    reply = cw.get(path)
    assert reply.status_code == 200, reply.text
    return json.loads(reply.text, parse_float=Decimal)


def money_of(cw, invoice_id):
    inv = get(cw, f"/finance/invoices/{invoice_id}")
    return inv["payments"], inv["credits"], inv["balance"], inv["status"]["name"]


def refused(reply, field, code="InvalidField"):
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["code"] == "InvalidObject" and body["errors"][0]["field"] == field, body
    assert body["errors"][0]["code"] == code and body["errors"][0]["resource"] == "InvoicePayment"
    return body["errors"][0]["message"]


def invoice_with(cw, company_id, price, kind="Standard", **extra):
    inv = cw.post("/finance/invoices", json={"type": kind, "company": {"id": company_id}, **extra}).json()
    added = cw.post("/procurement/products", json={"invoice": {"id": inv["id"]}, "catalogItem": {"id": 15},
                                                   "quantity": 1, "price": price})
    assert added.status_code == 201, added.text
    return get(cw, f"/finance/invoices/{inv['id']}")


def test_seeded_money_adds_up():
    state = CwState.from_seed(7, 1)
    invoices, payments = state.c["invoices"], state.c["payments"]
    for inv in invoices.all():
        listed = [payments.by_id[p] for p in state.payments_of.get(inv["id"], [])]
        assert inv["balance"] == inv["total"] - inv["payments"] - inv["credits"]
        if inv["type"] == "CreditMemo":
            applied = [p for p in payments.all() if (p.get("credit") or {}).get("id") == inv["id"]]
            assert inv["credits"] == -sum((p["amount"] for p in applied), D(0))
            assert inv["payments"] == -sum((p["amount"] for p in listed), D(0))
            assert all(p["type"] == "Refund" for p in listed) and D(0) >= inv["balance"] >= inv["total"]
        else:
            assert inv["credits"] == sum((p["amount"] for p in listed if p["type"] == "Credit Memo"), D(0))
            assert inv["balance"] >= 0
        assert (inv["status"]["name"] == "Paid") == (inv["balance"] == 0 and bool(inv["payments"] or inv["credits"]))


def test_the_tiny_seed_shows_a_credit_applied_and_a_refund(cw):
    memo, target = get(cw, "/finance/invoices/1012"), get(cw, "/finance/invoices/1011")
    assert (memo["credits"], memo["balance"], memo["status"]["name"]) == (memo["total"], D("0.00"), "Paid")
    listed = get(cw, "/finance/invoices/1011/payments")
    assert [(p["type"], p.get("credit")) for p in listed] == [
        ("Payment", None), ("Credit Memo", {"id": 1012, "identifier": "INV-10012"})]
    assert target["credits"] == D("1287.00") and target["balance"] == 0
    refund = get(cw, "/finance/invoices/1009/payments")
    assert [(p["type"], p["amount"]) for p in refund] == [("Refund", D("181.50"))]
    assert get(cw, "/finance/invoices/1009")["payments"] == D("-181.50")
    assert [p["id"] for p in get(cw, "/finance/invoices/1011/payments?conditions=credit/id=1012")] == [5]


def test_a_credit_applied_moves_both_invoices_and_deleting_it_restores_them(cw, clock):
    target = invoice_with(cw, 252, "200.00")  # 220.00 with GST
    memo = invoice_with(cw, 252, "-50.00", kind="CreditMemo", applyToId=target["id"])  # -55.00
    assert money_of(cw, memo["id"]) == (D("0.00"), D("0.00"), D("-55.00"), "New")
    clock.advance(minutes=5)
    applied = cw.post(f"/finance/invoices/{target['id']}/payments",
                      json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": 30.5,
                            "paymentDate": "2026-11-21T00:00:00Z"})
    assert applied.status_code == 201, applied.text
    payment = json.loads(applied.text, parse_float=Decimal)
    assert {k: payment[k] for k in ("type", "invoice", "credit", "amount", "paymentDate")} == {
        "type": "Credit Memo", "invoice": {"id": target["id"], "identifier": target["invoiceNumber"]},
        "credit": {"id": memo["id"], "identifier": memo["invoiceNumber"]}, "amount": D("30.50"),
        "paymentDate": "2026-11-21T00:00:00Z"}
    assert money_of(cw, target["id"]) == (D("0.00"), D("30.50"), D("189.50"), "New")
    assert money_of(cw, memo["id"]) == (D("0.00"), D("-30.50"), D("-24.50"), "New")
    moved = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(cw, f"/finance/invoices/{target['id']}")["_info"]["lastUpdated"] == moved
    assert get(cw, f"/finance/invoices/{memo['id']}")["_info"]["lastUpdated"] == moved
    assert [p["id"] for p in get(cw, f"/finance/invoices/{target['id']}/payments")] == [payment["id"]]
    assert get(cw, f"/finance/invoices/{memo['id']}/payments") == []

    rest = cw.post(f"/finance/invoices/{target['id']}/payments",
                   json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": "24.50"})
    assert rest.status_code == 201
    assert money_of(cw, memo["id"]) == (D("0.00"), D("-55.00"), D("0.00"), "Paid")
    assert cw.delete(f"/finance/invoices/{memo['id']}").status_code == 400  # its credit is in use

    clock.advance(minutes=5)
    assert cw.delete(f"/finance/invoices/{target['id']}/payments/{payment['id']}").status_code == 204
    assert cw.delete(f"/finance/invoices/{target['id']}/payments/{rest.json()['id']}").status_code == 204
    assert money_of(cw, target["id"]) == (D("0.00"), D("0.00"), D("220.00"), "New")
    assert money_of(cw, memo["id"]) == (D("0.00"), D("0.00"), D("-55.00"), "Sent")
    moved = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(cw, f"/finance/invoices/{memo['id']}")["_info"]["lastUpdated"] == moved


def test_credit_applications_refused_name_the_field(cw):
    target = invoice_with(cw, 253, "100.00")  # 110.00
    memo = invoice_with(cw, 253, "-200.00", kind="CreditMemo")  # -220.00
    other_memo = invoice_with(cw, 254, "-10.00", kind="CreditMemo")
    url = f"/finance/invoices/{target['id']}/payments"
    assert "exceeds the invoice balance 110.00" in refused(
        cw.post(url, json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": "110.01"}), "amount")
    refused(cw.post(url, json={"type": "Credit Memo", "amount": 5}), "credit", "MissingRequiredField")
    refused(cw.post(url, json={"type": "Credit Memo", "credit": {"id": target["id"]}, "amount": 5}), "credit")
    refused(cw.post(url, json={"type": "Credit Memo", "credit": {"id": 999999}, "amount": 5}), "credit")
    assert "belongs to company 254" in refused(
        cw.post(url, json={"type": "Credit Memo", "credit": {"id": other_memo["id"]}, "amount": 5}), "credit")
    refused(cw.post(url, json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": 0}), "amount")
    refused(cw.post(url, json={"type": "Refund", "amount": 5}), "type")
    refused(cw.post(url, json={"type": "Cheque", "amount": 5}), "type")
    refused(cw.post(url, json={"type": "Payment", "credit": {"id": memo["id"]}, "amount": 5}), "credit")
    small = invoice_with(cw, 253, "300.00")
    cw.post(f"/finance/invoices/{small['id']}/payments",
            json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": "200.00"})
    assert "remaining credit 20.00" in refused(
        cw.post(url, json={"type": "Credit Memo", "credit": {"id": memo["id"]}, "amount": "20.01"}), "amount")
    assert money_of(cw, target["id"]) == (D("0.00"), D("0.00"), D("110.00"), "New")  # nothing changed


def test_refunds_are_listed_under_the_credit_memo(cw):
    memo = invoice_with(cw, 255, "-40.00", kind="CreditMemo")  # -44.00
    url = f"/finance/invoices/{memo['id']}/payments"
    refund = cw.post(url, json={"type": "Refund", "amount": "14.00", "paymentDate": "2026-11-22T00:00:00Z"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["type"] == "Refund" and "credit" not in refund.json()
    assert money_of(cw, memo["id"]) == (D("-14.00"), D("0.00"), D("-30.00"), "New")
    assert "remaining credit 30.00" in refused(cw.post(url, json={"type": "Refund", "amount": "30.01"}), "amount")
    refused(cw.post(url, json={"amount": "1.00"}), "type")  # a plain payment cannot go on a credit memo
    assert [p["type"] for p in get(cw, f'{url}?conditions=type="Refund"')] == ["Refund"]
    assert cw.delete(f"{url}/{refund.json()['id']}").status_code == 204
    assert money_of(cw, memo["id"]) == (D("0.00"), D("0.00"), D("-44.00"), "New")


def test_apply_to_type_takes_only_published_values(cw):
    reply = cw.post("/finance/invoices", json={"type": "CreditMemo", "company": {"id": 250}, "applyToType": "Invoice"})
    assert reply.status_code == 400 and reply.json()["errors"][0]["field"] == "applyToType"
