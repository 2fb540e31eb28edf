"""Pure pieces of the Xero simulator: the `where` language, ordering, paging,
If-Modified-Since, totals and the wire format."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from services.sandbox.xero import query
from services.sandbox.xero.serialize import ms_date, parse_date, to_wire
from services.sandbox.xero.totals import recompute

ID = "3f2b1c8e-1111-4a4a-9b9b-000000000001"
RECORDS = [
    {"InvoiceNumber": "INV-1", "Type": "ACCREC", "Status": "AUTHORISED", "Contact": {"ContactID": ID, "Name": "Acme"},
     "Date": date(2026, 11, 1), "Total": Decimal("10.00"), "SentToContact": True,
     "UpdatedDateUTC": datetime(2026, 11, 1, 10, 0, 0, 400000, tzinfo=timezone.utc)},
    {"InvoiceNumber": "INV-2", "Type": "ACCPAY", "Status": "DRAFT", "Contact": {"ContactID": "other", "Name": "Beta"},
     "Date": date(2026, 11, 15), "Total": Decimal("250.50"), "SentToContact": False,
     "UpdatedDateUTC": datetime(2026, 11, 15, 10, 0, 1, tzinfo=timezone.utc)},
    {"InvoiceNumber": "CN-3", "Type": "ACCREC", "Status": "PAID", "Contact": {"ContactID": ID, "Name": "Acme"},
     "Date": date(2026, 10, 1), "Total": Decimal("99.99"), "SentToContact": False,
     "UpdatedDateUTC": datetime(2026, 10, 1, tzinfo=timezone.utc)},
]


def numbers(where: str) -> list[str]:
    test = query.where(where)
    return [r["InvoiceNumber"] for r in RECORDS if test(r)]


@pytest.mark.parametrize("where, expected", [
    ('Status=="AUTHORISED"', ["INV-1"]),
    ('Type == "ACCREC"', ["INV-1", "CN-3"]),
    (f'Contact.ContactID==guid("{ID.upper()}")', ["INV-1", "CN-3"]),
    ('InvoiceNumber=="INV-2"', ["INV-2"]),
    ('Type=="ACCREC" AND Status=="PAID"', ["CN-3"]),
    ('Status=="DRAFT" OR Status=="PAID"', ["INV-2", "CN-3"]),
    ('Type=="ACCREC" && (Status=="DRAFT" || Status=="AUTHORISED")', ["INV-1"]),
    ("Date >= DateTime(2026, 11, 01)", ["INV-1", "INV-2"]),
    ("Date < DateTime(2026,11,01)", ["CN-3"]),
    ("Total > 50", ["INV-2", "CN-3"]),
    ('Contact.Name.Contains("cm")', ["INV-1", "CN-3"]),
    ('InvoiceNumber.StartsWith("INV")', ["INV-1", "INV-2"]),
    ("SentToContact==true", ["INV-1"]),
    ('Status!="DRAFT"', ["INV-1", "CN-3"]),
    ('SentToContact && Total < 50', ["INV-1"]),
    ('SentToContact || Status=="PAID"', ["INV-1", "CN-3"]),
])
def test_where_forms(where, expected):
    assert numbers(where) == expected


@pytest.mark.parametrize("bad", ['Status=="AUTHORISED" AND', 'Status=>"X"', '(Status=="X"', '"x"=="x"',
                                 'Contact.ContactID==guid()'])
def test_where_refuses_what_it_cannot_parse(bad):
    with pytest.raises(ValueError):
        query.where(bad)


def test_order_and_page():
    ordered = query.order(list(RECORDS), "Type, Total DESC", "UpdatedDateUTC")
    assert [r["InvoiceNumber"] for r in ordered] == ["INV-2", "CN-3", "INV-1"]
    items, pagination = query.page(ordered, 2, 2)
    assert [r["InvoiceNumber"] for r in items] == ["INV-1"]
    assert pagination == {"page": 2, "pageSize": 2, "pageCount": 2, "itemCount": 3}
    assert query.page(ordered, None, None) == (ordered, None)


def test_if_modified_since_is_to_the_second():
    since = datetime(2026, 11, 1, 10, 0, 0, 900000, tzinfo=timezone.utc)
    # INV-1 changed at 10:00:00.4, the same second: not later, so not returned.
    assert [r["InvoiceNumber"] for r in query.modified_since(RECORDS, since)] == ["INV-2"]


def test_totals_exclusive_inclusive_and_rounding():
    rates = {"OUTPUT": {"EffectiveRate": Decimal("10.00")}, "EXEMPT": {"EffectiveRate": Decimal("0")}}
    doc = {"LineAmountTypes": "Exclusive", "LineItems": [
        {"Quantity": Decimal("3"), "UnitAmount": Decimal("0.335"), "TaxType": "OUTPUT"},
        {"Quantity": Decimal("1"), "UnitAmount": Decimal("100"), "DiscountRate": Decimal("12.5"), "TaxType": "OUTPUT"},
        {"LineAmount": Decimal("5"), "TaxType": "EXEMPT"}]}
    recompute(doc, rates)
    assert [line["LineAmount"] for line in doc["LineItems"]] == [Decimal("1.01"), Decimal("87.50"), Decimal("5.00")]
    assert [line["TaxAmount"] for line in doc["LineItems"]] == [Decimal("0.10"), Decimal("8.75"), Decimal("0.00")]
    assert (doc["SubTotal"], doc["TotalTax"], doc["Total"], doc["AmountDue"]) == (
        Decimal("93.51"), Decimal("8.85"), Decimal("102.36"), Decimal("102.36"))
    inclusive = {"LineAmountTypes": "Inclusive", "LineItems": [
        {"Quantity": Decimal("1"), "UnitAmount": Decimal("99.99"), "TaxType": "OUTPUT"}], "AmountPaid": Decimal("9.99")}
    recompute(inclusive, rates)
    assert (inclusive["SubTotal"], inclusive["TotalTax"], inclusive["Total"]) == (
        Decimal("90.90"), Decimal("9.09"), Decimal("99.99"))
    assert inclusive["AmountDue"] == Decimal("90.00")


def test_wire_format():
    assert ms_date(datetime(2019, 11, 14, 18, 10, 38, 314000, tzinfo=timezone.utc)) == "/Date(1573755038314+0000)/"
    assert ms_date(date(2026, 11, 20)) == "/Date(1795132800000+0000)/"
    assert parse_date("/Date(1795132800000+0000)/", "Date") == date(2026, 11, 20)
    assert parse_date("2026-11-20T00:00:00", "Date") == date(2026, 11, 20)
    with pytest.raises(ValueError, match="DueDate"):
        parse_date("20/11/2026", "DueDate")
    assert to_wire({"Total": Decimal("102.36"), "Skip": None, "_internal": 1}) == {"Total": 102.36}
