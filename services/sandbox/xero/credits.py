"""Overpayments and prepayments allocated to invoices, prepayments received, and a
payment moved from one invoice to another (what a person does in Xero's UI when
a payment was entered against the wrong invoice). Xero counts an allocation in
the invoice's AmountCredited, like a credit note's."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from . import payments as pay
from . import validation as v
from .serialize import parse_date, parse_decimal
from .state import Organisation, XeroState
from .totals import ZERO, cents

KINDS = {"overpayment": ("OverpaymentID", "Overpayments"), "prepayment": ("PrepaymentID", "Prepayments")}


def allocation_errors(org: Organisation, credit: dict, raw: Any) -> tuple[list[str], dict]:
    if not isinstance(raw, dict):
        return ["The element must be an object."], {}
    ref = raw.get("Invoice")
    if not isinstance(ref, dict):
        ref = {}
    invoice = org.invoices.get(str(ref.get("InvoiceID", "")).lower())
    errors: list[str] = []
    if invoice is None or invoice["Type"] != "ACCREC":
        errors.append(v.NOT_FOUND)
    elif invoice["Status"] != "AUTHORISED":
        errors.append(v.NOT_VALID_STATUS)
    parts: dict[str, Any] = {"invoice": invoice}
    try:
        parts["amount"] = amount = cents(parse_decimal(raw.get("Amount"), "Amount"))
        parts["date"] = parse_date(raw["Date"], "Date") if raw.get("Date") else None
        if amount <= 0:
            errors.append("Amount: the allocated amount must be greater than zero.")
        elif amount > credit["RemainingCredit"]:
            errors.append("The amount allocated exceeds the remaining credit.")
        elif invoice is not None and amount > invoice["AmountDue"]:
            errors.append(v.PAYMENT_TOO_BIG)
    except ValueError as exc:
        errors.append(str(exc))
    return errors, parts


def allocate(state: XeroState, org: Organisation, kind: str, credit: dict, parts: dict) -> dict:
    now = state.clock.now()
    id_field, plural = KINDS[kind]
    invoice, amount = parts["invoice"], parts["amount"]
    allocation = {
        "AllocationID": str(uuid.uuid4()),
        "Amount": amount,
        "Date": parts["date"] or now.date(),
        "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber")},
        "IsDeleted": False,
    }
    credit["Allocations"].append(allocation)
    credit["AppliedAmount"] = cents(credit["AppliedAmount"] + amount)
    credit["RemainingCredit"] = cents(credit["Total"] - credit["AppliedAmount"])
    if credit["RemainingCredit"] == ZERO:
        credit["Status"] = "PAID"
    credit["UpdatedDateUTC"] = now
    invoice["AmountCredited"] = cents(invoice["AmountCredited"] + amount)
    invoice.setdefault(plural, []).append({id_field: credit[id_field], "AppliedAmount": amount})
    pay._settle(state, org, invoice, now, allocation["Date"])
    return {**allocation, kind.capitalize(): {id_field: credit[id_field]}}


def record_prepayment(
    state: XeroState, org: Organisation, contact_id: str, amount: Decimal, on: date | None, reference: str
) -> dict:
    """Money received before any invoice: a RECEIVE-PREPAYMENT. (Xero also lists its bank side
    as an ARPREPAYMENTPAYMENT payment; the simulator leaves that out.)"""
    now = state.clock.now()
    amount = cents(amount)
    bank = next(a for a in org.accounts.values() if a["Type"] == "BANK" and a["Status"] == "ACTIVE")
    record: dict[str, Any] = {
        "PrepaymentID": str(uuid.uuid4()),
        "Type": "RECEIVE-PREPAYMENT",
        "Contact": {"ContactID": contact_id},
        "Date": on or now.date(),
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [
            {
                "Description": reference or "Prepayment",
                "Quantity": Decimal(1),
                "UnitAmount": amount,
                "LineAmount": amount,
                "TaxAmount": ZERO,
                "AccountCode": bank["Code"],
            }
        ],
        "SubTotal": amount,
        "TotalTax": ZERO,
        "Total": amount,
        "UpdatedDateUTC": now,
        "CurrencyCode": "AUD",
        "CurrencyRate": Decimal(1),
        "RemainingCredit": amount,
        "AppliedAmount": ZERO,
        "Allocations": [],
        "Payments": [],
        "HasAttachments": False,
        "Reference": reference,
    }
    org.prepayments[record["PrepaymentID"]] = record
    return record


def move_payment(state: XeroState, org: Organisation, payment: dict, invoice: dict) -> dict:
    """The payment leaves its invoice and pays `invoice` instead, keeping its PaymentID."""
    kind, old_id = payment["_doc"]
    if kind != "invoice" or payment["Status"] != "AUTHORISED":
        raise ValueError("only a live payment on an invoice can be moved")
    amount = payment["Amount"]
    if invoice["Status"] != "AUTHORISED" or amount > invoice["AmountDue"]:
        raise ValueError(v.PAYMENT_TOO_BIG if invoice["Status"] == "AUTHORISED" else v.NOT_VALID_STATUS)
    now = state.clock.now()
    old = org.invoices[old_id]
    entry = next(p for p in old["Payments"] if p["PaymentID"] == payment["PaymentID"])
    old["Payments"].remove(entry)
    old["AmountPaid"] = cents(old["AmountPaid"] - amount)
    if old["Status"] == "PAID":
        old["Status"] = "AUTHORISED"
        old.pop("FullyPaidOnDate", None)
    pay._settle(state, org, old, now)
    invoice["Payments"].append(entry)
    invoice["AmountPaid"] = cents(invoice["AmountPaid"] + amount)
    payment["_doc"] = ("invoice", invoice["InvoiceID"])
    payment["UpdatedDateUTC"] = now
    pay._settle(state, org, invoice, now, payment["Date"])
    return payment
