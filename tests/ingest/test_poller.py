"""Pure logic of ingest: hashing, conditions, conversion to the Avro event."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.common.codec import Codec
from services.integrations.connectwise.client import all_of, any_of, cond, in_, literal, retry_after_seconds
from services.ingest.event_frame import Gone, Reading
from services.ingest.invoices import (deleted_event, poll_conditions, record_type_of, snapshot_of, to_invoice_event,
                                      type_condition)
from services.ingest.poller import RecordError, changed_since, content_hash, dumps_cw_json, window


def invoice(**over) -> dict:
    record = {
        "id": 42, "invoiceNumber": "INV-0042", "type": "Standard", "status": {"id": 2, "name": "Sent"},
        "company": {"id": 7, "identifier": "AcmeCo", "name": "Acme Pty Ltd"},
        "date": "2026-11-02T00:00:00Z", "dueDate": "2026-12-02T00:00:00Z",
        "location": {"id": 2, "name": "Sydney"}, "locationId": 2, "departmentId": 3,
        "taxCode": {"id": 1, "name": "GST"}, "currency": {"id": 1, "currencyCode": "AUD"},
        "subtotal": Decimal("100.10"), "salesTax": Decimal("10.01"), "total": Decimal("110.11"),
        "payments": Decimal("0.00"), "credits": Decimal("0.00"), "balance": Decimal("110.11"),
        "customFields": [{"id": 7, "caption": "Xero Entity", "type": "Text", "value": "Holdings"}],
        "_info": {"lastUpdated": "2026-11-03T04:05:06Z", "updatedBy": "cwapi"},
    }
    record.update(over)
    return record


def lines() -> list[dict]:
    return [
        {"id": 501, "catalogItem": {"id": 1, "identifier": "MSP-BASIC"}, "description": "Managed services",
         "quantity": Decimal("1"), "price": Decimal("80.10"), "cost": Decimal("40"), "taxableFlag": True,
         "productClass": "Service", "invoice": {"id": 42, "identifier": "INV-0042"}},
        {"id": 502, "catalogItem": {"id": 2, "identifier": "BACKUP"}, "description": "Backup",
         "quantity": Decimal("2"), "price": Decimal("10.00"), "cost": None, "taxableFlag": False,
         "productClass": "NonInventory", "invoice": {"id": 42, "identifier": "INV-0042"}},
    ]


# --- hashing -----------------------------------------------------------------------

def test_same_content_in_another_key_and_line_order_hashes_the_same():
    a = invoice()
    b = dict(reversed(list(copy.deepcopy(a).items())))
    b_lines = [dict(reversed(list(line.items()))) for line in reversed(lines())]
    assert content_hash(a, lines()) == content_hash(b, b_lines)


def test_a_changed_line_changes_the_hash():
    changed = lines()
    changed[1]["quantity"] = Decimal("3")
    assert content_hash(invoice(), lines()) != content_hash(invoice(), changed)


def test_a_removed_line_or_changed_header_changes_the_hash():
    base = content_hash(invoice(), lines())
    assert content_hash(invoice(), lines()[:1]) != base
    assert content_hash(invoice(status={"id": 4, "name": "Void"}), lines()) != base


def test_trailing_zeros_and_touches_that_sync_nothing_do_not_change_the_hash():
    base = content_hash(invoice(), lines())
    # 100.10 and 100.1 are the same money
    assert content_hash(invoice(subtotal=Decimal("100.1")), lines()) == base
    # lastUpdated moves, a payment is applied in ConnectWise: nothing to write to Xero
    touched = invoice(_info={"lastUpdated": "2026-11-09T00:00:00Z", "updatedBy": "someone"},
                      payments=Decimal("110.11"), balance=Decimal("0.00"), status={"id": 3, "name": "Paid"})
    assert content_hash(touched, lines()) == base
    # but voiding it is a change Xero must hear about
    assert content_hash(invoice(status={"id": 4, "name": "Void"}), lines()) != base


# --- conditions --------------------------------------------------------------------

def test_overlap_condition_reaches_back_from_the_cursor():
    cursor = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
    assert changed_since(cursor, timedelta(minutes=10)) == "lastUpdated > [2026-11-20T11:50:00Z]"
    assert changed_since(cursor, timedelta(0)) == "lastUpdated > [2026-11-20T12:00:00Z]"
    with pytest.raises(ValueError, match="overlap"):
        changed_since(cursor, timedelta(minutes=-1))


def test_poll_conditions_split_invoices_from_credit_memos():
    cursor = datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert poll_conditions("invoice", cursor, timedelta(minutes=5)) == \
        '(type != "CreditMemo") and (lastUpdated > [2026-11-19T23:55:00Z])'
    assert type_condition("credit_note") == 'type = "CreditMemo"'
    with pytest.raises(ValueError, match="procurement"):
        type_condition("procurement")


def test_window_refuses_from_after_to():
    a = datetime(2026, 11, 1, tzinfo=timezone.utc)
    b = datetime(2026, 11, 2, tzinfo=timezone.utc)
    assert window(a, b) == "(lastUpdated >= [2026-11-01T00:00:00Z]) and (lastUpdated <= [2026-11-02T00:00:00Z])"
    with pytest.raises(ValueError, match="after"):
        window(b, a)


def test_condition_literals():
    assert literal('say "hi"') == '"say \\"hi\\""'
    assert literal(True) == "true"
    assert literal(Decimal("1.50")) == "1.50"
    assert in_("invoice/id", [1, 2, 3]) == "invoice/id in (1, 2, 3)"
    assert any_of(cond("a", "=", 1), None, cond("b", "=", "x")) == '(a = 1) or (b = "x")'
    assert all_of(cond("a", "=", 1)) == "a = 1"
    with pytest.raises(ValueError, match="timezone"):
        literal(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="operator"):
        cond("a", "~", 1)


def test_retry_after_as_seconds_or_http_date():
    assert retry_after_seconds("3") == 3.0
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Wed, 25 Nov 2026 12:00:05 GMT", now) == 5.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


# --- conversion --------------------------------------------------------------------

def test_invoice_becomes_an_event_with_decimal_money_and_routing_facts():
    observed = datetime(2026, 11, 25, tzinfo=timezone.utc)
    event = to_invoice_event(invoice(), lines(), Reading(observed_at=observed),
                             extra_refs={"account_manager_identifier": "jsmith"})
    assert event["observed_at"] == observed and event["trigger"] == "SCHEDULE"
    assert event["account_manager_identifier"] == "jsmith"
    assert event["record_type"] == "invoice"
    assert event["cw_id"] == 42 and event["invoice_number"] == "INV-0042"
    assert event["total"] == Decimal("110.1100") and isinstance(event["total"], Decimal)
    assert event["sales_tax"] == Decimal("10.01")
    assert event["date"] == "2026-11-02" and event["due_date"] == "2026-12-02"
    assert event["last_updated"] == datetime(2026, 11, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert event["location_id"] == 2 and event["department_id"] == 3
    assert event["account_manager_identifier"] == "jsmith"
    assert event["currency"] == "AUD" and event["tax_code"] == "GST" and event["status"] == "Sent"
    assert event["custom_fields"] == [{"caption": "Xero Entity", "value": "Holdings"}]
    assert [l["id"] for l in event["lines"]] == [501, 502]
    assert event["lines"][0]["price"] == Decimal("80.10") and event["lines"][1]["cost"] is None
    assert event["lines"][1]["taxable"] is False and event["lines"][0]["catalog_item"] == "MSP-BASIC"
    assert event["content_hash"] == content_hash(invoice(), lines())
    # the raw record keeps its numbers as numbers, exactly
    raw = json.loads(event["raw"], parse_float=Decimal)
    assert raw["total"] == Decimal("110.11") and '"total":110.11' in event["raw"]


def test_every_type_but_credit_memo_is_an_invoice():
    for kind in ("Standard", "Agreement", "Miscellaneous", "Progress", "DownPayment"):
        assert record_type_of(invoice(type=kind)) == "invoice"
    memo = invoice(type="CreditMemo", total=Decimal("-55.00"), subtotal=Decimal("-50.00"),
                   salesTax=Decimal("-5.00"), balance=Decimal("-55.00"))
    event = to_invoice_event(memo, [])
    assert event["record_type"] == "credit_note" and event["invoice_type"] == "CreditMemo"
    assert event["total"] == Decimal("-55.0000")


def test_event_encodes_with_the_avro_schema():
    codec = Codec.from_directory()
    event = to_invoice_event(invoice(), lines())
    name, decoded = codec.decode(codec.encode("cw_invoice_changed", event))
    assert name == "cw_invoice_changed"
    assert decoded["total"] == Decimal("110.1100") and decoded["lines"][1]["quantity"] == Decimal("2.0000")


def test_bad_records_name_the_field():
    with pytest.raises(RecordError, match="company.id"):
        to_invoice_event(invoice(company={"name": "x"}), [])
    with pytest.raises(RecordError, match="total: not a number"):
        to_invoice_event(invoice(total="lots"), [])
    with pytest.raises(RecordError, match="lastUpdated"):
        to_invoice_event(invoice(_info={}), [])
    with pytest.raises(RecordError, match="float"):
        to_invoice_event(invoice(total=110.11), [])


def test_dumps_keeps_decimals_as_json_numbers():
    assert dumps_cw_json({"a": Decimal("-1.50"), "b": ["x", Decimal("2")], "c": "\u0000n12"}) == \
        '{"a":-1.50,"b":["x",2],"c":"\\u0000n12"}'


def test_dumps_round_trips_strings_that_look_like_marks():
    value = {"\u0000n1": "\u0000s\u0000n2", "n": [Decimal("0.10"), "plain"]}
    assert json.loads(dumps_cw_json(value), parse_float=Decimal) == value


def test_deleted_event_carries_the_snapshot_and_encodes():
    observed = datetime(2026, 11, 25, tzinfo=timezone.utc)
    snap = snapshot_of(to_invoice_event(invoice(), lines()))
    event = deleted_event("invoice", Gone(42, json.loads(json.dumps(snap)), observed))
    assert event["change"] == "DELETED" and event["lines"] == [] and event["total"] == Decimal(0)
    assert event["location_id"] == 2 and event["custom_fields"] == [{"caption": "Xero Entity", "value": "Holdings"}]
    assert event["invoice_number"] == "INV-0042" and event["content_hash"].startswith("deleted:")
    codec = Codec.from_directory()
    assert codec.decode(codec.encode("cw_invoice_changed", event))[1]["change"] == "DELETED"
    bare = deleted_event("credit_note", Gone(7, None, observed, number="CM-7"))
    assert bare["invoice_type"] == "CreditMemo" and bare["invoice_number"] == "CM-7"


def test_a_reading_keeps_the_cycles_hash_and_a_gone_row_its_last_known_facts():
    observed = datetime(2026, 11, 25, tzinfo=timezone.utc)
    event = to_invoice_event(invoice(), lines(), Reading("FORCE_SYNC", observed, "cycle-hash"))
    assert event["content_hash"] == "cycle-hash" and event["trigger"] == "FORCE_SYNC"
    assert to_invoice_event(invoice(), lines())["content_hash"] == content_hash(invoice(), lines())
    last = datetime(2026, 11, 20, tzinfo=timezone.utc)
    row = {"cw_id": "42", "snapshot": None, "last_updated": last, "record_number": "INV-9"}
    gone = deleted_event("invoice", Gone.from_row(row, observed_at=observed, trigger="FORCE_SYNC"))
    assert gone["cw_id"] == 42 and gone["last_updated"] == last and gone["observed_at"] == observed
    assert gone["invoice_number"] == "INV-9" and gone["trigger"] == "FORCE_SYNC"


def purchase_order(**over) -> dict:
    record = {
        "id": 9, "poNumber": "PO-0009", "poDate": "2026-11-04T00:00:00Z",
        "vendorCompany": {"id": 300, "identifier": "DistiCo", "name": "Disti Co"},
        "vendorInvoiceNumber": "D-77", "vendorInvoiceDate": "2026-11-05T00:00:00Z",
        "status": {"id": 1, "name": "Open"}, "locationId": 1, "businessUnitId": 2,
        "subTotal": Decimal("200.00"), "salesTax": Decimal("21.00"), "freightCost": Decimal("10.00"),
        "total": Decimal("231.00"), "closedFlag": False, "taxCode": {"id": 1, "name": "GST"},
        "currency": {"currencyCode": "AUD"}, "customFields": [],
        "_info": {"lastUpdated": "2026-11-05T01:02:03Z"},
    }
    record.update(over)
    return record


def po_lines() -> list[dict]:
    return [
        {"id": 12, "lineNumber": 2, "product": {"id": 4, "identifier": "SSD"}, "description": "SSD",
         "quantity": Decimal("2"), "unitCost": Decimal("50.00"), "tax": Decimal("10.00"), "canceledFlag": False},
        {"id": 11, "lineNumber": 1, "product": {"id": 3, "identifier": "RAM"}, "description": "RAM",
         "quantity": Decimal("1"), "unitCost": Decimal("100.00"), "tax": None, "canceledFlag": True},
    ]


def test_purchase_order_becomes_an_event():
    from services.ingest.purchase_orders import deleted_po_event, po_snapshot_of, to_purchase_order_event
    event = to_purchase_order_event(purchase_order(), po_lines())
    assert event["record_type"] == "procurement" and event["po_number"] == "PO-0009"
    assert event["po_date"] == "2026-11-04" and event["vendor_invoice_date"] == "2026-11-05"
    assert event["vendor_company_identifier"] == "DistiCo" and event["department_id"] == 2
    assert event["freight_cost"] == Decimal("10") and event["total"] == Decimal("231.0000")
    assert [l["line_number"] for l in event["lines"]] == [1, 2]
    assert event["lines"][0]["canceled"] is True and event["lines"][0]["tax"] is None
    assert event["lines"][1]["unit_cost"] == Decimal("50.00") and event["lines"][1]["product"] == "SSD"
    codec = Codec.from_directory()
    assert codec.decode(codec.encode("cw_purchase_order_changed", event))[1]["total"] == Decimal("231.0000")
    gone = deleted_po_event(Gone(9, json.loads(json.dumps(po_snapshot_of(event))),
                                 datetime(2026, 11, 25, tzinfo=timezone.utc)))
    assert gone["change"] == "DELETED" and gone["po_number"] == "PO-0009" and gone["location_id"] == 1
    codec.encode("cw_purchase_order_changed", gone)
    with pytest.raises(RecordError, match="vendorCompany.id"):
        to_purchase_order_event(purchase_order(vendorCompany=None), [])


def test_payment_becomes_an_event_with_its_invoice_facts():
    from services.ingest.payments import deleted_payment_event, payment_hash, payment_snapshot_of, to_payment_event
    pay = {"id": 81, "type": "Payment", "invoice": {"id": 42, "identifier": "INV-0042"}, "amount": Decimal("50.00"),
           "paymentDate": "2026-11-10T00:00:00Z", "appliedBy": "accounts",
           "_info": {"lastUpdated": "2026-11-10T03:00:00Z"}}
    event = to_payment_event(pay, invoice())
    assert event["record_type"] == "payment" and event["cw_id"] == 81 and event["invoice_id"] == 42
    assert event["amount"] == Decimal("50.0000") and event["payment_date"] == "2026-11-10"
    assert event["company_identifier"] == "AcmeCo" and event["location_id"] == 2
    assert event["custom_fields"] == [{"caption": "Xero Entity", "value": "Holdings"}]
    codec = Codec.from_directory()
    assert codec.decode(codec.encode("cw_payment_changed", event))[1]["amount"] == Decimal("50.0000")
    # the payment's hash follows the invoice facts it carries, not the invoice's other fields
    assert payment_hash(pay, invoice(total=Decimal("1.00"))) == payment_hash(pay, invoice())
    assert payment_hash(pay, invoice(locationId=3)) != payment_hash(pay, invoice())
    gone = deleted_payment_event(Gone(81, json.loads(json.dumps(payment_snapshot_of(event))),
                                      datetime(2026, 11, 25, tzinfo=timezone.utc)))
    assert gone["change"] == "DELETED" and gone["invoice_id"] == 42 and gone["amount"] == Decimal(0)
    codec.encode("cw_payment_changed", gone)
