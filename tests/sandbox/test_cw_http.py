"""The ConnectWise simulator over real HTTP (uvicorn on a free port), driven as
the product drives ConnectWise."""
import json
from decimal import Decimal

import httpx
import pytest

from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock, Server, auth_headers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clock():
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock):
    state = CwState.from_seed(7, 1, clock=clock)
    with Server(create_app(state)) as srv:
        srv.state = state
        yield srv


@pytest.fixture
def cw(server):
    with server.client() as client:
        yield client


def decimal_json(response: httpx.Response):
    return json.loads(response.text, parse_float=Decimal)


@pytest.mark.parametrize("headers, reason", [
    ({}, "clientId header is required"),
    (auth_headers(client_id=None), "clientId header is required"),
    (auth_headers(client_id="00000000-0000-0000-0000-000000000000"), "clientId is not registered"),
    ({"clientId": auth_headers()["clientId"]}, "Basic authorization is required"),
    (auth_headers(private="wrong"), "Invalid credentials"),
    (auth_headers(public="wrong"), "Invalid credentials"),
    (auth_headers(company="othermsp"), "Invalid credentials"),
    ({**auth_headers(), "Authorization": "Basic !!notbase64"}, "not valid base64"),
])
def test_auth_failures_get_401_with_the_cw_error_body(server, headers, reason):
    response = httpx.get(f"{server.base}/finance/invoices", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "Unauthorized" and reason in body["message"]
    assert "czPrivateKey" not in response.text


def test_company_info_needs_no_auth(server):
    response = httpx.get(f"{server.root}/login/companyinfo/connectzero")
    assert response.status_code == 200 and response.json()["Codebase"] == "v4_6_release/"
    assert httpx.get(f"{server.root}/login/companyinfo/nobody").status_code == 404


def test_count_matches_the_listing(cw):
    conditions = 'type = "CreditMemo"'
    count = cw.get("/finance/invoices/count", params={"conditions": conditions}).json()["count"]
    listed = cw.get("/finance/invoices", params={"conditions": conditions, "pageSize": 1000}).json()
    assert count == len(listed) > 0
    assert all(i["type"] == "CreditMemo" and i["total"] < 0 for i in listed)
    assert cw.get("/company/companies/count").json()["count"] == len(cw.get("/company/companies", params={"pageSize": 1000}).json())


def test_conditions_on_dates_both_spellings(cw):
    since = "[2026-11-01T00:00:00Z]"
    a = cw.get("/finance/invoices", params={"conditions": f"lastUpdated > {since}", "pageSize": 1000}).json()
    b = cw.get("/finance/invoices", params={"conditions": f"_info/lastUpdated > {since}", "pageSize": 1000}).json()
    assert a == b and 0 < len(a) < 300
    assert all(i["_info"]["lastUpdated"] > "2026-11-01T00:00:00Z" for i in a)
    window = cw.get("/finance/invoices", params={
        "conditions": 'date >= [2026-10-01T00:00:00Z] and date < [2026-10-08T00:00:00Z] and type != "CreditMemo"',
        "pageSize": 1000}).json()
    assert window and all("2026-10-01" <= i["date"][:10] < "2026-10-08" for i in window)


def test_custom_field_conditions_select_tagged_records(cw):
    tagged = cw.get("/company/companies", params={
        "customFieldConditions": 'caption = "Xero Entity" and value = "Holdings"', "pageSize": 1000}).json()
    assert tagged and all(any(f.get("value") == "Holdings" for f in c["customFields"]) for c in tagged)
    every = cw.get("/company/companies/count").json()["count"]
    assert len(tagged) < every
    invoices = cw.get("/finance/invoices", params={
        "customFieldConditions": 'caption = "Xero Entity" and value = "Holdings"',
        "conditions": 'type = "Standard"', "pageSize": 1000}).json()
    assert invoices and {i["company"]["id"] for i in invoices} <= {c["id"] for c in tagged}


def test_bad_condition_is_a_400_naming_the_problem(cw):
    response = cw.get("/finance/invoices", params={"conditions": 'type = "Standard" and'})
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidObject",
                               "message": "conditions: unexpected end of conditions; expected a field name"}
    unknown = cw.get("/finance/invoices", params={"conditions": "colour = 1"})
    assert unknown.status_code == 400 and "unknown field colour" in unknown.json()["message"]
    assert cw.get("/finance/invoices", params={"pageSize": 1001}).status_code == 400


def test_field_names_ignore_case_and_order_by(cw):
    rows = cw.get("/finance/invoices", params={"conditions": 'TYPE = "Agreement"', "orderBy": "_info/lastUpdated desc",
                                               "fields": "id,_info/lastUpdated"}).json()
    stamps = [r["_info"]["lastUpdated"] for r in rows]
    assert stamps == sorted(stamps, reverse=True) and len(rows) == 25


def test_fields_gives_a_partial_response(cw):
    rows = cw.get("/finance/invoices", params={"fields": "id,total,company/name", "pageSize": 3}).json()
    assert len(rows) == 3 and all(set(r) == {"id", "total", "company"} and set(r["company"]) == {"name"} for r in rows)
    one = cw.get("/finance/invoices/1001", params={"fields": "invoiceNumber"}).json()
    assert one == {"invoiceNumber": "INV-10001"}


def test_money_is_written_with_two_decimals(cw):
    import re
    text = cw.get("/finance/invoices", params={"pageSize": 50}).text
    amounts = re.findall(r'"(?:subtotal|total|salesTax|balance)":(-?[0-9.]+)', text)
    assert len(amounts) == 200 and all(re.fullmatch(r"-?[0-9]+\.[0-9]{2}", a) for a in amounts)


def test_products_of_an_invoice_add_up_to_its_subtotal(cw):
    invoice = decimal_json(cw.get("/finance/invoices/1001"))
    products = decimal_json(cw.get("/procurement/products", params={"conditions": "invoice/id=1001"}))
    assert products and all(p["invoice"] == {"id": 1001, "identifier": "INV-10001"} for p in products)
    assert sum(p["extPrice"] for p in products) == invoice["subtotal"]
    assert invoice["total"] == invoice["subtotal"] + invoice["salesTax"]


def test_purchase_orders_and_their_line_items(cw):
    po = decimal_json(cw.get("/procurement/purchaseorders/501"))
    lines = decimal_json(cw.get("/procurement/purchaseorders/501/lineitems"))
    assert lines and all(line["purchaseOrderId"] == 501 for line in lines)
    assert sum(line["quantity"] * line["unitCost"] for line in lines) == po["subTotal"]
    assert cw.get("/procurement/purchaseorders/501/lineitems/count").json() == {"count": len(lines)}
    assert cw.get("/procurement/purchaseorders/99999/lineitems").status_code == 404


def test_people_and_places(cw):
    assert [l["name"] for l in cw.get("/system/locations").json()] == ["Adelaide", "Sydney", "Melbourne", "Brisbane",
                                                                       "Auckland"]
    members = cw.get("/system/members", params={"conditions": 'defaultLocation/name = "Sydney"'}).json()
    assert len(members) == 3 and all(m["defaultLocation"]["id"] == 2 for m in members)
    assert cw.get("/system/departments/count").json()["count"] == 4


def test_payment_above_the_balance_is_refused_and_one_within_lowers_it(cw, server):
    invoice = next(i for i in decimal_json(cw.get("/finance/invoices", params={
        "conditions": 'status/name = "Sent" and type = "Standard" and balance > 100', "pageSize": 1})))
    over = cw.post(f"/finance/invoices/{invoice['id']}/payments",
                   json={"amount": float(invoice["balance"] + Decimal("0.01"))})
    assert over.status_code == 400
    assert over.json()["errors"][0]["field"] == "amount" and "exceeds the invoice balance" in over.json()["errors"][0]["message"]
    server.state.clock.advance(minutes=5)
    paid = cw.post(f"/finance/invoices/{invoice['id']}/payments",
                   json={"amount": "100.00", "paymentDate": "2026-11-20T00:00:00Z", "type": "Payment"})
    assert paid.status_code == 201 and decimal_json(paid)["amount"] == Decimal("100.00")
    after = decimal_json(cw.get(f"/finance/invoices/{invoice['id']}"))
    assert after["balance"] == invoice["balance"] - 100
    assert after["_info"]["lastUpdated"] > invoice["_info"]["lastUpdated"]
    listed = cw.get(f"/finance/invoices/{invoice['id']}/payments").json()
    assert paid.json()["id"] in [p["id"] for p in listed]
    rest = cw.post(f"/finance/invoices/{invoice['id']}/payments", json={"amount": float(after["balance"])})
    assert rest.status_code == 201
    assert cw.get(f"/finance/invoices/{invoice['id']}").json()["status"]["name"] == "Paid"


def test_invoice_create_update_patch_delete(cw, server):
    created = cw.post("/finance/invoices", json={"type": "Standard", "company": {"id": 252}})
    assert created.status_code == 201
    inv = created.json()
    assert inv["invoiceNumber"].startswith("INV-") and inv["total"] == 0 and inv["company"]["id"] == 252
    server.state.clock.advance(minutes=1)
    patched = cw.patch(f"/finance/invoices/{inv['id']}", json=[{"op": "replace", "path": "status/id", "value": 2},
                                                                 {"op": "replace", "path": "reference", "value": "PO 77"}])
    assert patched.status_code == 200 and patched.json()["status"]["name"] == "Sent"
    assert patched.json()["reference"] == "PO 77"
    assert patched.json()["_info"]["lastUpdated"] > inv["_info"]["lastUpdated"]
    put = cw.put(f"/finance/invoices/{inv['id']}", json={**patched.json(), "type": "Miscellaneous"})
    assert put.status_code == 200 and put.json()["type"] == "Miscellaneous"
    bad = cw.post("/finance/invoices", json={"type": "Standard"})
    assert bad.status_code == 400 and bad.json()["errors"][0] == {
        "code": "MissingRequiredField", "message": "company is required", "resource": "Invoice", "field": "company"}
    dup = cw.post("/finance/invoices", json={"company": {"id": 252}, "invoiceNumber": inv["invoiceNumber"]})
    assert dup.status_code == 400 and dup.json()["errors"][0]["field"] == "invoiceNumber"
    assert cw.delete(f"/finance/invoices/{inv['id']}").status_code == 204
    assert cw.get(f"/finance/invoices/{inv['id']}").status_code == 404


def test_credit_memo_created_through_the_api(cw):
    memo = cw.post("/finance/invoices", json={"type": "CreditMemo", "company": {"id": 250}, "applyToId": 1001})
    assert memo.status_code == 201 and memo.json()["type"] == "CreditMemo" and memo.json()["applyToId"] == 1001
    assert cw.get("/finance/invoices/count", params={"conditions": f"id = {memo.json()['id']} and type = \"CreditMemo\""}).json() == {"count": 1}


def test_invoice_lines_added_edited_and_removed_through_products(cw, server):
    created = cw.post("/finance/invoices", json={"company": {"id": 251}}).json()
    line = cw.post("/procurement/products", json={"invoice": {"id": created["id"]}, "catalogItem": {"id": 8},
                                                 "quantity": 3})
    assert line.status_code == 201 and line.json()["price"] == 1895.0
    inv = decimal_json(cw.get(f"/finance/invoices/{created['id']}"))
    assert inv["subtotal"] == Decimal("5685.00") and inv["total"] == Decimal("6253.50")
    server.state.clock.advance(minutes=2)
    edited = cw.patch(f"/procurement/products/{line.json()['id']}",
                      json=[{"op": "replace", "path": "quantity", "value": 2},
                            {"op": "replace", "path": "price", "value": "1800.00"}])
    assert edited.status_code == 200
    after = decimal_json(cw.get(f"/finance/invoices/{created['id']}"))
    assert after["subtotal"] == Decimal("3600.00") and after["_info"]["lastUpdated"] > inv["_info"]["lastUpdated"]
    bad = cw.post("/procurement/products", json={"invoice": {"id": created["id"]}, "catalogItem": {"id": 8},
                                                "quantity": 0})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "quantity"
    assert cw.delete(f"/procurement/products/{line.json()['id']}").status_code == 204
    assert decimal_json(cw.get(f"/finance/invoices/{created['id']}"))["total"] == 0


def test_unknown_route_answers_in_the_cw_error_shape(cw):
    response = cw.get("/finance/nothing")
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_a_lastupdated_cursor_sees_exactly_the_mutated_invoices(cw, server):
    from random import Random

    from services.sandbox.connectwise.mutator import mutate_once
    cursor = server.state.clock.advance(hours=1)
    changed = set()
    rng = Random(21)
    for _ in range(12):
        server.state.clock.advance(seconds=10)
        change = mutate_once(server.state, rng)
        if "invoiceId" not in change:
            continue  # a purchase-order change
        if change["action"] != "delete":
            changed.add(change["invoiceId"])
        else:
            changed.discard(change["invoiceId"])
    stamp = cursor.strftime("%Y-%m-%dT%H:%M:%SZ")
    seen = cw.get("/finance/invoices", params={"conditions": f"lastUpdated > [{stamp}]", "pageSize": 1000,
                                               "fields": "id"}).json()
    assert {row["id"] for row in seen} == changed and changed


def test_purchase_order_written_through_the_api(cw, server):
    created = cw.post("/procurement/purchaseorders", json={"vendorCompany": {"id": 310}, "locationId": 3,
                                                          "vendorInvoiceNumber": "DELL-1", "freightCost": 20})
    assert created.status_code == 201, created.text
    po = created.json()
    line = cw.post(f"/procurement/purchaseorders/{po['id']}/lineitems",
                   json={"product": {"id": 8}, "quantity": 2, "unitCost": "1540.00"})
    assert line.status_code == 201
    after = decimal_json(cw.get(f"/procurement/purchaseorders/{po['id']}"))
    assert after["subTotal"] == Decimal("3080.00") and after["salesTax"] == Decimal("310.00")
    assert after["total"] == Decimal("3410.00")
    server.state.clock.advance(minutes=1)
    cw.patch(f"/procurement/purchaseorders/{po['id']}/lineitems/{line.json()['id']}",
             json=[{"op": "replace", "path": "quantity", "value": 3}])
    closed = cw.patch(f"/procurement/purchaseorders/{po['id']}", json=[{"op": "replace", "path": "status/name",
                                                                         "value": "Closed"}])
    assert closed.status_code == 200 and closed.json()["closedFlag"] is True
    assert decimal_json(closed)["subTotal"] == Decimal("4620.00")
    bad = cw.post("/procurement/purchaseorders", json={"locationId": 3})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "vendorCompany"
    for path, value in (("status/id", 99), ("status/name", ["Closed"]), ("status", {"name": 7})):
        refused = cw.patch(f"/procurement/purchaseorders/{po['id']}", json=[{"op": "replace", "path": path,
                                                                              "value": value}])
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == path, (path, refused.text)
    assert cw.delete(f"/procurement/purchaseorders/{po['id']}").status_code == 204
    assert cw.get(f"/procurement/purchaseorders/{po['id']}/lineitems").status_code == 404


def test_an_auckland_invoice_is_in_nzd_with_the_rate_the_msp_recorded(cw, server):
    msp = server.state.msp
    seeded = next(i for i in msp.invoices if i.location_id == 5)
    invoice = decimal_json(cw.get(f"/finance/invoices/{seeded.id}"))
    assert invoice["currency"]["currencyCode"] == "NZD" and invoice["currency"]["name"] == "New Zealand Dollar"
    fields = {f["caption"]: f.get("value") for f in invoice["customFields"]}
    assert fields["Exchange Rate"] == str(seeded.exchange_rate) and fields["Xero Entity"] is None
    assert invoice["salesTax"] == seeded.sales_tax and invoice["taxCode"]["name"] == "GST NZ"
    company = cw.get(f"/company/companies/{seeded.company_id}").json()
    assert company["currency"]["currencyCode"] == "NZD" and company["country"]["name"] == "New Zealand"
    # One made through the API for an Auckland customer is billed in NZD at the day's rate too.
    created = cw.post("/finance/invoices", json={"type": "Standard", "company": {"id": seeded.company_id}})
    assert created.status_code == 201, created.text
    assert created.json()["currency"]["currencyCode"] == "NZD"
    assert {f["caption"] for f in created.json()["customFields"]} == {"Xero Entity", "Exchange Rate"}
    australian = decimal_json(cw.get("/finance/invoices/1001"))
    assert australian["currency"]["currencyCode"] == "AUD"
    assert [f["caption"] for f in australian["customFields"]] == ["Xero Entity"]
    assert cw.delete(f"/finance/invoices/{created.json()['id']}").status_code == 204
