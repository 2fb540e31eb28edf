"""Xero money into events (pure): dates as Xero writes them, allocations taken back,
money never through float, and a hash that ignores when a record was read."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.ingest.xero_payment_events import (XeroRecordError, credit_events, event_hash, invoice_balance,
                                                 payment_event, xero_day, xero_time)

ORG = ("adelaide", "tenant-1")
AT = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
OVERPAYMENT = {"OverpaymentID": "op-1", "Type": "RECEIVE-OVERPAYMENT", "Status": "AUTHORISED",
               "Contact": {"ContactID": "c-1", "Name": "Acme"}, "Date": "/Date(1795132800000+0000)/",
               "UpdatedDateUTC": "/Date(1795165200000+0000)/", "RemainingCredit": Decimal("15.00"),
               "Reference": "Payment INV-1",
               "Allocations": [{"AllocationID": "al-1", "Amount": Decimal("35.00"), "Date": "2026-11-19T00:00:00",
                                "Invoice": {"InvoiceID": "i-2", "InvoiceNumber": "INV-2"}},
                               {"AllocationID": "al-2", "Amount": Decimal("5.00"), "IsDeleted": True,
                                "Invoice": {"InvoiceID": "i-3", "InvoiceNumber": "INV-3"}}]}


def test_xero_dates_read_in_both_of_its_forms():
    assert xero_time("/Date(1795165200000+0000)/", "x") == datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    assert xero_time("2026-11-20T09:00:00", "x") == datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    assert xero_day({"Date": "/Date(1795132800000+0000)/"}, "Date") == "2026-11-20"
    with pytest.raises(XeroRecordError, match="^UpdatedDateUTC:"):
        xero_time("yesterday", "UpdatedDateUTC")


def test_an_overpayment_is_its_credit_and_one_event_per_allocation():
    credit, kept, taken_back = credit_events(ORG, "Overpayments", OVERPAYMENT, "SCHEDULE", AT)
    assert (credit["source"], credit["payment_id"], credit["amount"], credit["reference"]) == (
        "overpayment", "op-1", Decimal("15.0000"), "Payment INV-1")
    assert (kept["source"], kept["parent_id"], kept["invoice_number"], kept["status"], kept["payment_date"]) == (
        "allocation", "op-1", "INV-2", "AUTHORISED", "2026-11-19")
    assert (taken_back["payment_id"], taken_back["status"]) == ("al-2", "DELETED")
    voided = credit_events(ORG, "Overpayments", {**OVERPAYMENT, "Status": "VOIDED"}, "SCHEDULE", AT)
    assert {e["status"] for e in voided[1:]} == {"DELETED"}


def test_money_never_passes_through_float_and_the_hash_ignores_when_it_was_read():
    payment = {"PaymentID": "p-1", "Amount": Decimal("10.10"), "Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT",
               "UpdatedDateUTC": "/Date(1795165200000+0000)/", "Invoice": {"InvoiceID": "i-1", "InvoiceNumber": "INV-1"}}
    event = payment_event(ORG, payment, "SCHEDULE", AT)
    assert event["amount"] == Decimal("10.1000")
    assert event_hash(event) == event_hash(payment_event(ORG, payment, "FORCE_SYNC", datetime.now(timezone.utc)))
    assert event_hash(event) != event_hash(payment_event(ORG, {**payment, "Status": "DELETED"}, "SCHEDULE", AT))
    with pytest.raises(XeroRecordError, match="^Amount:"):
        payment_event(ORG, {**payment, "Amount": 10.1}, "SCHEDULE", AT)


def test_only_sales_invoices_have_an_open_balance_kept():
    invoice = {"InvoiceID": "i-1", "Type": "ACCREC", "InvoiceNumber": "INV-1", "Status": "AUTHORISED",
               "Total": Decimal("110.00"), "AmountDue": Decimal("50.00"), "UpdatedDateUTC": "2026-11-20T09:00:00"}
    assert invoice_balance(invoice)["amount_due"] == Decimal("50.0000")
    assert invoice_balance({**invoice, "Type": "ACCPAY"}) is None
