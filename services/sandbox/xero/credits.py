"""Overpayments and prepayments allocated to invoices, prepayments received, and a
payment moved from one invoice to another (what a person does in Xero's UI when
a payment was entered against the wrong invoice). Xero counts an allocation in
the invoice's AmountCredited, like a credit note's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import allocations
from . import payments as pay
from . import validation as v
from .state import Organisation, XeroState
from .totals import ZERO, cents

KINDS = {"overpayment": ("OverpaymentID", "Overpayments"), "prepayment": ("PrepaymentID", "Prepayments")}


def allocate(state: XeroState, org: Organisation, kind: str, credit: dict, parts: dict) -> dict:
    now = state.clock.now()
    id_field, plural = KINDS[kind]
    invoice, amount = parts["invoice"], parts["amount"]
    allocation = allocations.add_allocation(credit, invoice, amount, parts["date"] or now.date())
    credit["RemainingCredit"] = cents(credit["Total"] - credit["AppliedAmount"])
    if credit["RemainingCredit"] == ZERO:
        credit["Status"] = "PAID"
    credit["UpdatedDateUTC"] = now
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
    record = allocations.received_credit(
        "PrepaymentID", "RECEIVE-PREPAYMENT", contact_id, amount, on or now.date(), bank["Code"], reference, now
    )
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
