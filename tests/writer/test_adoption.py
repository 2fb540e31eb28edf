"""Which Xero document stands for a record about to be created (pure)."""
from __future__ import annotations

import json
from decimal import Decimal

from services.writer.adoption import Adopt, Differs, judge
from services.writer.batching import WriteRequest


def req(record_type: str = "invoice", total: str = "110.00", **body) -> WriteRequest:
    number_field = "CreditNoteNumber" if record_type == "credit_note" else "InvoiceNumber"
    content = {"Type": "ACCREC", number_field: "N-1", "Contact": {"ContactID": "C-1"},
               "LineItems": [{"UnitAmount": "100.00"}], **body}
    return WriteRequest.from_record({
        "request_id": "r", "organisation_id": "org", "record_type": record_type, "cw_id": 1, "content_hash": "h",
        "operation": "UPSERT", "endpoint": "CreditNotes" if record_type == "credit_note" else "Invoices",
        "body": json.dumps(content), "natural_key": "N-1", "total": Decimal(total)})


def doc(total: str = "110.00", contact: str = "c-1", status: str = "AUTHORISED", **extra) -> dict:
    return {"InvoiceID": f"X-{total}-{contact}-{status}", "Type": "ACCREC", "InvoiceNumber": "N-1", "Total": total,
            "Status": status, "Contact": {"ContactID": contact, "Name": "Someone"}, **extra}


def test_the_same_number_contact_and_total_within_rounding_is_adopted():
    assert isinstance(judge(req(), [doc("110.01")], "org"), Adopt)  # a cent a line
    assert judge(req(), [], "org") is None
    assert judge(req(), [doc(status="DELETED")], "org") is None  # a deleted document no longer holds its number
    assert judge(req(), [doc(Type="ACCPAY")], "org") is None  # a bill is not this invoice


def test_a_candidate_that_differs_names_each_difference_and_shows_both_sides():
    found = judge(req(), [doc("110.02", "c-2")], "org")
    assert isinstance(found, Differs) and found.differences == ["contact", "total"]
    assert (found.details["connectwise_total"], found.details["xero_total"]) == ("110.00", "110.02")
    assert found.message.startswith("Invoice N-1 (ConnectWise id 1) is already in Xero organisation org")
    assert judge(req(), [doc(status="VOIDED")], "org").differences == ["status"]
    assert judge(req(CurrencyCode="NZD"), [doc(CurrencyCode="AUD")], "org").differences == ["currency"]


def test_one_of_several_is_adopted_when_only_it_matches_and_none_is_guessed_when_several_do():
    assert judge(req(), [doc("99.00"), doc()], "org").document["Total"] == "110.00"
    bill = req("procurement", Type="ACCPAY")
    bills = [doc(Type="ACCPAY"), doc(Type="ACCPAY", InvoiceID="other"), doc(Type="ACCPAY", contact="c-9")]
    several = judge(bill, bills, "org")
    assert isinstance(several, Differs) and several.differences == ["several"]
    assert "2 documents in Xero match it" in several.message  # another supplier's bill is not a candidate


def test_a_credit_note_is_compared_on_its_amount():
    note = req("credit_note", total="-55.00", Type="ACCRECCREDIT")
    held = {"CreditNoteID": "CN", "Type": "ACCRECCREDIT", "CreditNoteNumber": "N-1", "Total": "55.00",
            "Status": "AUTHORISED", "Contact": {"ContactID": "C-1"}}
    assert isinstance(judge(note, [held], "org"), Adopt)
