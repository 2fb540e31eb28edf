"""ConnectWise records -> Xero elements, with exact Decimal totals, and every
problem named when something cannot be mapped."""
from decimal import Decimal as D

import pytest

from services.common.natural_key import NaturalKey
from services.mapping.translate import XeroDocument, deletion, money, translate

from .records import australian_org, invoice, purchase_order


def test_invoice_becomes_accrec_with_mapped_lines_and_exact_totals():
    doc = translate(invoice(), australian_org(), "AUTHORISED")
    assert isinstance(doc, XeroDocument)
    assert doc.endpoint == "Invoices" and doc.natural_key == "INV-1001"
    assert doc.subtotal == D("399.99") and doc.total_tax == D("40.00") and doc.total == D("439.99")
    el = doc.element
    assert el["Type"] == "ACCREC" and el["Status"] == "AUTHORISED" and el["LineAmountTypes"] == "Exclusive"
    assert el["Contact"] == {"ContactID": "c-acme"} and doc.contact_method == "contact_number"
    assert el["Date"] == "2026-11-02" and el["DueDate"] == "2026-12-02"
    assert el["InvoiceNumber"] == "INV-1001" and el["Reference"] == "CW#1001" and el["CurrencyCode"] == "AUD"
    assert el["LineItems"] == [
        {"Description": "Managed services", "Quantity": "2", "UnitAmount": "150.00", "AccountCode": "200",
         "TaxType": "OUTPUT", "Tracking": [{"Name": "Region", "Option": "South Australia"}]},
        {"Description": "Switch", "Quantity": "1", "UnitAmount": "99.99", "AccountCode": "210",
         "TaxType": "OUTPUT", "Tracking": [{"Name": "Region", "Option": "South Australia"}]},
    ]


def test_money_is_strings_never_floats():
    doc = translate(invoice(), australian_org())
    for item in doc.element["LineItems"]:
        assert isinstance(item["UnitAmount"], str) and isinstance(item["Quantity"], str)
    assert money(D("12.3456")) == "12.3456" and money(D("12.5000")) == "12.50" and money(D("10")) == "10.00"


def test_fractional_quantity_and_sub_cent_price_keep_their_precision():
    lines = [{"id": 1, "description": "Hours", "catalog_item": None, "product_class": "Service",
              "quantity": D("1.5000"), "price": D("123.4567"), "cost": None, "taxable": True}]
    doc = translate(invoice(lines=lines, sales_tax=D("18.52")), australian_org())
    item = doc.element["LineItems"][0]
    assert item["Quantity"] == "1.5" and item["UnitAmount"] == "123.4567"
    assert doc.subtotal == D("185.19") and doc.total_tax == D("18.52") and doc.total == D("203.71")


def test_non_taxable_line_uses_the_exempt_tax_type():
    lines = [{"id": 1, "description": "Freight", "catalog_item": None, "product_class": None,
              "quantity": D("1"), "price": D("20.00"), "cost": None, "taxable": False}]
    doc = translate(invoice(lines=lines), australian_org())
    assert doc.element["LineItems"][0]["TaxType"] == "EXEMPTOUTPUT" and doc.total == D("20.00")


def test_credit_memo_becomes_positive_accreccredit():
    lines = [{"id": 1, "description": "Refund", "catalog_item": None, "product_class": "Service",
              "quantity": D("1"), "price": D("-50.00"), "cost": None, "taxable": True}]
    doc = translate(invoice("CM-5", 5, lines=lines, record_type="credit_note", invoice_type="CreditMemo"), australian_org())
    assert doc.endpoint == "CreditNotes" and doc.natural_key == "CM-5"
    el = doc.element
    assert el["Type"] == "ACCRECCREDIT" and el["CreditNoteNumber"] == "CM-5" and "DueDate" not in el
    assert el["LineItems"][0]["UnitAmount"] == "50.00" and el["Status"] == "DRAFT"
    assert doc.total == D("55.00")


def test_purchase_order_becomes_draft_accpay_bill_without_cancelled_lines():
    doc = translate(purchase_order(freight=D("25.00")), australian_org(), "AUTHORISED")
    el = doc.element
    assert el["Type"] == "ACCPAY" and el["Status"] == "DRAFT" and el["InvoiceNumber"] == "PO-77"
    assert el["Reference"] == "PO PO-77" and el["Contact"] == {"ContactID": "c-dicker"} and doc.contact_method == "name"
    assert [i["Description"] for i in el["LineItems"]] == ["Laptop", "Freight"]
    assert {i["AccountCode"] for i in el["LineItems"]} == {"300"} and {i["TaxType"] for i in el["LineItems"]} == {"INPUT"}
    assert doc.subtotal == D("3025.00") and doc.total_tax == D("302.50") and doc.total == D("3327.50")


def test_invoice_without_lines_carries_its_subtotal():
    doc = translate(invoice(lines=[], sales_tax=D("0")), australian_org())
    assert isinstance(doc, XeroDocument)
    assert len(doc.element["LineItems"]) == 1 and doc.total == D("0.00")


def kinds(result):
    assert isinstance(result, list), result
    return sorted((p.kind, p.field, p.value) for p in result)


def test_every_problem_is_named_at_once():
    org = australian_org()
    org.accounts.pop(("sales", "*"))
    org.tracking[("location", "3")] = ("Region", "Tasmania")
    record = invoice(location_id=3, company=("NEWCO", "New Co"))
    problems = translate(record, org)
    assert kinds(problems) == [
        ("missing_contact", "company_identifier", "NEWCO"),
        ("missing_tracking_option", "location_id", "3"),
        ("unknown_account", "lines[0].product_class", "Service"),
    ]
    by_kind = {p.kind: p for p in problems}
    assert "no Xero contact for company 'NEWCO'" in by_kind["missing_contact"].message
    assert "Region/Tasmania" in by_kind["missing_tracking_option"].message
    assert "product class 'Service'" in by_kind["unknown_account"].message


def test_unmapped_location_when_the_org_tracks_by_location():
    problems = translate(invoice(location_id=9), australian_org())
    assert kinds(problems) == [("missing_tracking_option", "location_id", "9")]
    assert "no tracking option mapped for location 9 in organisation adelaide" in problems[0].message


def test_mapped_account_code_missing_from_the_xero_catalog():
    org = australian_org()
    org.accounts[("sales", "Hardware")] = "999"
    problems = translate(invoice(), org)
    assert kinds(problems) == [("unknown_account", "lines[1].product_class", "Hardware")]
    assert "account code 999" in problems[0].message


def test_tax_type_not_valid_for_the_account_class():
    org = australian_org()
    org.tax[("sales", "GST")] = "INPUT"
    problems = translate(invoice(), org)
    assert [p.kind for p in problems] == ["tax_mismatch", "tax_mismatch"]
    messages = sorted(p.message for p in problems)
    assert "INPUT cannot be used with account 200 (REVENUE)" in messages[0]
    assert "INPUT cannot be used with account 210 (REVENUE)" in messages[1]


def test_unmapped_tax_code():
    problems = translate(invoice(tax_code="VAT"), australian_org())
    assert kinds(problems) == [("tax_mismatch", "tax_code", "VAT")]


def test_connectwise_tax_that_xero_would_not_compute_is_a_mismatch():
    problems = translate(invoice(sales_tax=D("55.00")), australian_org())
    assert kinds(problems) == [("tax_mismatch", "sales_tax", "55.00")]
    assert "40.00" in problems[0].message


def test_rounding_within_a_cent_per_line_is_not_a_mismatch():
    assert isinstance(translate(invoice(sales_tax=D("40.01")), australian_org()), XeroDocument)


def test_bad_status_setting_is_refused():
    with pytest.raises(ValueError, match="DRAFT or AUTHORISED"):
        translate(invoice(), australian_org(), "PAID")


def test_deleted_records_name_the_number_to_remove():
    assert deletion(invoice()) == ("Invoices", {"InvoiceNumber": "INV-1001", "Status": "DELETED"}, "INV-1001")
    assert deletion(invoice("CM-1", record_type="credit_note"))[0] == "CreditNotes"
    assert deletion(purchase_order())[2] == "PO-77"


def test_organisation_that_creates_contacts_names_the_new_contact():
    org = australian_org()
    org.create_contacts = True
    doc = translate(invoice(company=("NEWCO", "New Co")), org)
    assert isinstance(doc, XeroDocument) and doc.contact_method == "create"
    assert doc.element["Contact"] == {"Name": "New Co", "ContactNumber": "NEWCO"}


def test_a_bill_is_keyed_by_its_contact_number_and_date_even_when_its_contact_is_new():
    org = australian_org()
    bill = translate(purchase_order(), org)
    assert NaturalKey.parse(bill.natural_key) == NaturalKey.bill("c-dicker", "PO-77", "2026-11-03")
    org.create_contacts = True  # two new suppliers billing with the same number are told apart by name
    keys = {translate(purchase_order(vendor=vendor), org).natural_key for vendor in (("NEW1", "One"), ("NEW2", "Two"))}
    assert {NaturalKey.parse(k) for k in keys} == {NaturalKey.named_bill(name, "PO-77", "2026-11-03")
                                                   for name in ("One", "Two")}


def test_ambiguous_contact_is_never_created_even_when_allowed():
    from services.mapping.model import Contact

    org = australian_org()
    org.create_contacts = True
    org.catalog.contacts += [Contact("t1", "Twins Co"), Contact("t2", "Twins Co")]
    problems = translate(invoice(company=("TWINS", "Twins Co")), org)
    assert kinds(problems) == [("missing_contact", "company_identifier", "TWINS")]


def test_catalog_item_mapping_beats_product_class():
    org = australian_org()
    org.accounts[("sales", "MS-1")] = "210"  # this one service item is booked to 210, other services to 200
    lines = invoice()["lines"] + [{"id": 3, "description": "Other service", "catalog_item": "MS-2", "product_class": "Service",
                                   "quantity": D("1"), "price": D("10.00"), "cost": None, "taxable": True}]
    doc = translate(invoice(lines=lines), org)
    assert [i["AccountCode"] for i in doc.element["LineItems"]] == ["210", "210", "200"]


def test_per_line_tracking_by_catalog_item_beside_the_record_region():
    org = australian_org()
    org.catalog.tracking["Service Line"] = frozenset({"Managed Services", "Hardware"})
    org.tracking[("catalog_item", "MS-1")] = ("Service Line", "Managed Services")
    org.tracking[("catalog_item", "SW-8")] = ("Service Line", "Hardware")
    doc = translate(invoice(), org)
    assert [i["Tracking"] for i in doc.element["LineItems"]] == [
        [{"Name": "Region", "Option": "South Australia"}, {"Name": "Service Line", "Option": "Managed Services"}],
        [{"Name": "Region", "Option": "South Australia"}, {"Name": "Service Line", "Option": "Hardware"}],
    ]
    # An item the organisation has no Service Line for is named.
    org.tracking.pop(("catalog_item", "SW-8"))
    problems = translate(invoice(), org)
    assert kinds(problems) == [("missing_tracking_option", "lines[1].catalog_item", "SW-8")]


def test_more_than_two_tracking_categories_is_refused():
    org = australian_org()
    org.catalog.tracking["Service Line"] = frozenset({"Managed Services"})
    org.tracking[("department", "*")] = ("Department", "Projects")
    org.tracking[("product_class", "*")] = ("Service Line", "Managed Services")
    problems = translate(invoice(department_id=4), org)
    assert {p.kind for p in problems} == {"missing_tracking_option"}
    assert "at most 2 tracking categories" in problems[0].message
