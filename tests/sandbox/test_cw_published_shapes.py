"""The ConnectWise simulator judged by ConnectWise's published models: every route the
product uses (and every write the simulator supports) answers records that
pyconnectwise's pydantic models, generated from ConnectWise's OpenAPI document,
accept in strict mode: a value outside a published Literal enum, a missing
required field or a value of the wrong type fails. Fields the published model does
not know are allowed only where listed below, each with its reason."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pyconnectwise.clients.manage_client import ConnectWiseManageAPIClient
from pyconnectwise.models.manage import (CallbackEntry, Company, Department, Invoice, Location, Member, Payment,
                                         ProductItem, PurchaseOrder, PurchaseOrderLineItem)
from pydantic import BaseModel

from services.common import sandbox_identity as identity
from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock, Server

pytestmark = pytest.mark.integration

# Simulator fields beyond the published models (pydantic ignores them; no client breaks on them).
SIMULATOR_EXTRAS: dict[type[BaseModel], set[str]] = {
    # References beside the published flat ids; the product's ingest reads either form.
    Invoice: {"location", "department"},
    # Line totals the simulator derives the invoice from (tests outside the sandbox read them),
    # and the location reference beside the published locationId.
    ProductItem: {"extPrice", "extCost", "location"},
    # The company's home office, which ConnectWise keeps on the company's site: exposed flat so
    # an invoice raised without a location gets the company's (see records.company).
    Company: {"locationId"},
}


@pytest.fixture(scope="module")
def server():
    state = CwState.from_seed(7, 1, clock=ManualClock())
    with Server(create_app(state)) as srv:
        srv.state = state
        yield srv


@pytest.fixture
def cw(server):
    with server.client() as client:
        yield client


def published(model: type[BaseModel], record: dict) -> BaseModel:
    """The record as the published model reads it, strictly (JSON in, no coercion)."""
    unknown = set(record) - {f.alias or name for name, f in model.model_fields.items()}
    assert unknown <= SIMULATOR_EXTRAS.get(model, set()), f"{model.__name__} fields not published: {unknown}"
    return model.model_validate_json(json.dumps(record), strict=True)


def every(cw, path: str, model: type[BaseModel], **params) -> list[dict]:
    """Every record of a list route, page by page, each one validated; /count agrees."""
    rows, page = [], 1
    while True:
        reply = cw.get(path, params={**params, "page": page, "pageSize": 1000})
        assert reply.status_code == 200, reply.text
        batch = reply.json()
        rows += batch
        if 'rel="next"' not in reply.headers.get("Link", ""):
            break
        page += 1
    for row in rows:
        published(model, row)
    assert cw.get(f"{path}/count", params=params).json() == {"count": len(rows)}
    return rows


def one(cw, path: str, model: type[BaseModel]) -> dict:
    reply = cw.get(path)
    assert reply.status_code == 200, reply.text
    published(model, reply.json())
    return reply.json()


def test_every_read_route_answers_published_records(cw, server):
    invoices = every(cw, "/finance/invoices", Invoice)
    assert {i["type"] for i in invoices} == {"Standard", "Agreement", "Miscellaneous", "Progress", "DownPayment",
                                             "CreditMemo"}
    one(cw, f"/finance/invoices/{invoices[0]['id']}", Invoice)
    every(cw, "/finance/invoices", Invoice, conditions='type = "CreditMemo"')
    # Payments are listed under the invoice they pay, credit applied under the invoice it settles
    # and refunds under their credit memo; a memo's own `credits` is what it gave elsewhere.
    with_money = [i for i in invoices if i["payments"] or (i["credits"] and i["type"] != "CreditMemo")]
    kinds = set()
    for inv in with_money:
        payments = every(cw, f"/finance/invoices/{inv['id']}/payments", Payment)
        assert payments, inv
        kinds |= {p["type"] for p in payments}
        one(cw, f"/finance/invoices/{inv['id']}/payments/{payments[-1]['id']}", Payment)
    assert kinds == {"Payment", "Credit Memo", "Refund"}
    products = every(cw, "/procurement/products", ProductItem)
    assert products and every(cw, "/procurement/products", ProductItem, conditions=f"invoice/id = {invoices[0]['id']}")
    one(cw, f"/procurement/products/{products[0]['id']}", ProductItem)
    orders = every(cw, "/procurement/purchaseorders", PurchaseOrder)
    one(cw, f"/procurement/purchaseorders/{orders[0]['id']}", PurchaseOrder)
    for po in orders[:20]:
        lines = every(cw, f"/procurement/purchaseorders/{po['id']}/lineitems", PurchaseOrderLineItem)
        one(cw, f"/procurement/purchaseorders/{po['id']}/lineitems/{lines[0]['id']}", PurchaseOrderLineItem)
    for path, model in (("/system/members", Member), ("/system/locations", Location),
                        ("/system/departments", Department), ("/company/companies", Company)):
        rows = every(cw, path, model)
        one(cw, f"{path}/{rows[0]['id']}", model)


def test_writes_answer_published_records(cw, server):
    vendor = next(c for c in server.state.msp.companies if c.is_vendor)
    created = cw.post("/finance/invoices", json={"type": "Standard", "company": {"id": 250}})
    assert created.status_code == 201
    invoice = published(Invoice, created.json())
    assert invoice.apply_to_type == "All"
    product = cw.post("/procurement/products", json={"invoice": {"id": invoice.id}, "catalogItem": {"id": 1},
                                                     "quantity": 2})
    assert product.status_code == 201 and published(ProductItem, product.json()).billable_option == "Billable"
    patched = cw.patch(f"/procurement/products/{product.json()['id']}", json=[{"op": "replace", "path": "quantity",
                                                                               "value": 3}])
    published(ProductItem, patched.json())
    body = {k: v for k, v in created.json().items() if k not in ("id", "_info")}
    published(Invoice, cw.put(f"/finance/invoices/{invoice.id}", json={**body, "reference": "PO 7"}).json())
    published(Invoice, cw.patch(f"/finance/invoices/{invoice.id}",
                                json=[{"op": "replace", "path": "reference", "value": "PO 8"}]).json())
    paid = cw.post(f"/finance/invoices/{invoice.id}/payments",
                   json={"amount": 10, "paymentDate": "2026-11-21T00:00:00Z"})
    assert paid.status_code == 201 and published(Payment, paid.json()).type == "Payment"
    assert cw.delete(f"/finance/invoices/{invoice.id}/payments/{paid.json()['id']}").status_code == 204
    assert cw.delete(f"/procurement/products/{product.json()['id']}").status_code == 204
    assert cw.delete(f"/finance/invoices/{invoice.id}").status_code == 204

    po = cw.post("/procurement/purchaseorders", json={"vendorCompany": {"id": vendor.id}, "locationId": 2})
    assert po.status_code == 201 and published(PurchaseOrder, po.json())
    line = cw.post(f"/procurement/purchaseorders/{po.json()['id']}/lineitems",
                   json={"product": {"id": 8}, "quantity": 2})
    assert line.status_code == 201 and published(PurchaseOrderLineItem, line.json())
    published(PurchaseOrderLineItem, cw.patch(f"/procurement/purchaseorders/{po.json()['id']}/lineitems/"
                                              f"{line.json()['id']}",
                                              json=[{"op": "replace", "path": "quantity", "value": 4}]).json())
    published(PurchaseOrder, cw.patch(f"/procurement/purchaseorders/{po.json()['id']}",
                                      json=[{"op": "replace", "path": "status/name", "value": "Closed"}]).json())
    assert cw.delete(f"/procurement/purchaseorders/{po.json()['id']}").status_code == 204

    callback = cw.post("/system/callbacks", json={"url": "http://127.0.0.1:9/cb", "type": "Invoice", "level": "All",
                                                  "objectId": 0, "description": "shape test"})
    assert callback.status_code == 201 and published(CallbackEntry, callback.json())
    every(cw, "/system/callbacks", CallbackEntry)
    one(cw, f"/system/callbacks/{callback.json()['id']}", CallbackEntry)
    assert cw.delete(f"/system/callbacks/{callback.json()['id']}").status_code == 204


def test_credit_applied_and_refund_are_published_payments(cw):
    invoice = cw.post("/finance/invoices", json={"type": "Standard", "company": {"id": 251}}).json()
    memo = cw.post("/finance/invoices", json={"type": "CreditMemo", "company": {"id": 251},
                                              "applyToId": invoice["id"]}).json()
    for target, price in ((invoice, "100.00"), (memo, "-40.00")):
        cw.post("/procurement/products", json={"invoice": {"id": target["id"]}, "catalogItem": {"id": 15},
                                               "quantity": 1, "price": price})
    memo = published(Invoice, cw.get(f"/finance/invoices/{memo['id']}").json())
    assert memo.type == "CreditMemo" and memo.apply_to_type == "All" and memo.apply_to_id == invoice["id"]
    applied = cw.post(f"/finance/invoices/{invoice['id']}/payments",
                      json={"type": "Credit Memo", "credit": {"id": memo.id}, "amount": 30,
                            "paymentDate": "2026-11-21T00:00:00Z"})
    assert applied.status_code == 201, applied.text
    credit = published(Payment, applied.json())
    assert (credit.type, credit.credit.id, credit.credit.identifier, credit.invoice.id) == (
        "Credit Memo", memo.id, memo.invoice_number, invoice["id"])
    refund = cw.post(f"/finance/invoices/{memo.id}/payments", json={"type": "Refund", "amount": "4.00"})
    assert refund.status_code == 201, refund.text
    back = published(Payment, refund.json())
    assert back.type == "Refund" and back.credit is None and back.invoice.id == memo.id and back.amount == 4
    listed = [published(Payment, p) for p in cw.get(f"/finance/invoices/{invoice['id']}/payments").json()]
    assert [p.id for p in listed] == [credit.id]
    memo_now = published(Invoice, cw.get(f"/finance/invoices/{memo.id}").json())
    assert (Decimal(str(memo_now.credits)), Decimal(str(memo_now.payments)), Decimal(str(memo_now.balance))) == (
        Decimal("-30"), Decimal("-4"), Decimal("-10"))


def test_the_published_client_reads_the_simulator(server):
    """pyconnectwise's own client (its codebase look-up, endpoints, paging and parsing)
    against the simulator; only its URL scheme is changed, the simulator being plain HTTP."""
    class LocalClient(ConnectWiseManageAPIClient):
        def _get_url(self) -> str:
            return f"http://{self.manage_url}/{self.codebase.strip('/')}/apis/3.0"

        def _try_get_codebase_from_api(self, manage_url: str, company_name: str, headers: dict[str, str]) -> str:
            url = f"http://{manage_url}/login/companyinfo/{company_name}"
            return self._make_request("GET", url, headers=headers).json().get("Codebase")

    client = LocalClient(identity.CW_COMPANY, f"127.0.0.1:{server.port}", identity.CW_CLIENT_ID,
                         identity.CW_PUBLIC_KEY, identity.CW_PRIVATE_KEY)
    assert client.codebase == "v4_6_release/"
    pages = client.finance.invoices.paginated(1, 100)
    invoices = list(pages.all())
    assert len(invoices) == len(server.state.c["invoices"]) and all(isinstance(i, Invoice) for i in invoices)
    memo = next(i for i in invoices if i.type == "CreditMemo" and i.credits)
    payments = client.finance.invoices.id(memo.apply_to_id).payments.get()
    assert any(p.type == "Credit Memo" and p.credit.id == memo.id for p in payments)
    assert client.finance.invoices.count.get().count == len(invoices)
    assert {m.license_class for m in client.system.members.get()} == {"F"}
    assert client.procurement.purchaseorders.id(501).lineitems.get()
