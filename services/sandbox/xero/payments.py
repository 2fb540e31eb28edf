"""Payments, credit-note allocations and overpayments against stored
documents: amounts checked against what is outstanding, balances and statuses
(PAID and back) kept in step."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from . import validation as v
from .allocations import add_allocation, received_credit
from .serialize import parse_date, parse_decimal, with_date_strings
from .state import Organisation, XeroState
from .totals import ZERO, cents, refresh_balance


def _payment_account(org: Organisation, ref: Any) -> dict | None:
    if not isinstance(ref, dict):
        return None
    if ref.get("AccountID"):
        return org.account_by_id(str(ref["AccountID"]).lower())
    return org.accounts.get(str(ref.get("Code", "")))


def _target(org: Organisation, raw: dict) -> tuple[str, dict | None]:
    invoice = raw.get("Invoice")
    if isinstance(invoice, dict):
        if invoice.get("InvoiceID"):
            return "invoice", org.invoices.get(str(invoice["InvoiceID"]).lower())
        if invoice.get("InvoiceNumber"):
            return "invoice", org.invoice_by_number(str(invoice["InvoiceNumber"]))
    if raw.get("InvoiceNumber"):
        return "invoice", org.invoice_by_number(str(raw["InvoiceNumber"]))
    credit = raw.get("CreditNote")
    if isinstance(credit, dict) and credit.get("CreditNoteID"):
        return "credit", org.credit_notes.get(str(credit["CreditNoteID"]).lower())
    return "invoice", None


def payment_errors(org: Organisation, raw: Any) -> tuple[list[str], dict]:
    """Validation of one payment element; also returns its parsed parts."""
    if not isinstance(raw, dict):
        return ["The element must be an object."], {}
    errors: list[str] = []
    kind, doc = _target(org, raw)
    account = _payment_account(org, raw.get("Account"))
    parts: dict[str, Any] = {"kind": kind, "doc": doc, "account": account}
    if doc is None:
        errors.append(
            v.NOT_FOUND
            if raw.get("Invoice") or raw.get("CreditNote")
            else "You must specify an Invoice, CreditNote, Prepayment or Overpayment to apply the payment to."
        )
    elif doc["Status"] != "AUTHORISED":
        errors.append("Payment cannot be created against a document that is not AUTHORISED.")
    if account is None:
        code = (raw.get("Account") or {}).get("Code") if isinstance(raw.get("Account"), dict) else None
        errors.append(v.account_message(code) if code else "Account: the account to pay into must be specified.")
    elif not (account["Type"] == "BANK" or account.get("EnablePaymentsToAccount")):
        errors.append(f"Account type is invalid for making a payment to/from account '{account['Code']}'.")
    try:
        parts["amount"] = amount = parse_decimal(raw.get("Amount"), "Amount")
        if amount <= 0:
            errors.append("Amount: the payment amount must be greater than zero.")
        elif doc is not None:
            outstanding = doc["AmountDue"] if kind == "invoice" else doc["RemainingCredit"]
            if cents(amount) > outstanding:
                errors.append(v.PAYMENT_TOO_BIG)
    except ValueError as exc:
        errors.append(str(exc))
    try:
        parts["date"] = parse_date(raw["Date"], "Date") if raw.get("Date") else None
    except ValueError as exc:
        errors.append(str(exc))
    parts["reference"] = str(raw.get("Reference") or "")
    parts["is_reconciled"] = bool(raw.get("IsReconciled", False))
    return errors, parts


def apply_payment(state: XeroState, org: Organisation, parts: dict) -> dict:
    now = state.clock.now()
    doc, account, amount = parts["doc"], parts["account"], cents(parts["amount"])
    is_invoice = parts["kind"] == "invoice"
    payment_type = (
        {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT"}[doc["Type"]]
        if is_invoice
        else {"ACCRECCREDIT": "ARCREDITPAYMENT", "ACCPAYCREDIT": "APCREDITPAYMENT"}[doc["Type"]]
    )
    payment = {
        "PaymentID": str(uuid.uuid4()),
        "Date": parts["date"] or now.date(),
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": Decimal(1),
        "Reference": parts["reference"],
        "IsReconciled": parts["is_reconciled"],
        "Status": "AUTHORISED",
        "PaymentType": payment_type,
        "UpdatedDateUTC": now,
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "_doc": (parts["kind"], doc["InvoiceID" if is_invoice else "CreditNoteID"]),
    }
    org.payments[payment["PaymentID"]] = payment
    doc["Payments"].append(
        {
            "PaymentID": payment["PaymentID"],
            "Date": payment["Date"],
            "Amount": amount,
            "Reference": payment["Reference"],
            "CurrencyRate": Decimal(1),
            "HasAccount": True,
            "HasValidationErrors": False,
        }
    )
    if is_invoice:
        doc["AmountPaid"] = cents(doc["AmountPaid"] + amount)
    else:
        doc["AppliedAmount"] = cents(doc["AppliedAmount"] + amount)
    _settle(state, org, doc, now, payment["Date"])
    return payment


def delete_payment(state: XeroState, org: Organisation, payment: dict) -> None:
    now = state.clock.now()
    kind, doc_id = payment["_doc"]
    doc = (org.invoices if kind == "invoice" else org.credit_notes)[doc_id]
    payment["Status"] = "DELETED"
    payment["UpdatedDateUTC"] = now
    doc["Payments"] = [p for p in doc["Payments"] if p["PaymentID"] != payment["PaymentID"]]
    if kind == "invoice":
        doc["AmountPaid"] = cents(doc["AmountPaid"] - payment["Amount"])
    else:
        doc["AppliedAmount"] = cents(doc["AppliedAmount"] - payment["Amount"])
    if doc["Status"] == "PAID":
        doc["Status"] = "AUTHORISED"
        doc.pop("FullyPaidOnDate", None)
    _settle(state, org, doc, now)


def _settle(state: XeroState, org: Organisation, doc: dict, now, on: date | None = None) -> None:
    """Refresh the balance; a document with nothing outstanding becomes PAID, its
    FullyPaidOnDate the date of the payment or allocation that settled it."""
    refresh_balance(doc)
    outstanding = doc["AmountDue"] if "InvoiceID" in doc else doc["RemainingCredit"]
    if outstanding == ZERO and doc["Status"] == "AUTHORISED":
        doc["Status"] = "PAID"
        doc["FullyPaidOnDate"] = on or now.date()
    doc["UpdatedDateUTC"] = now
    category, key = ("INVOICE", "InvoiceID") if "InvoiceID" in doc else ("CREDITNOTE", "CreditNoteID")
    state.notify(org.tenant_id, category, doc[key], "UPDATE")


def apply_allocation(state: XeroState, org: Organisation, credit: dict, parts: dict) -> dict:
    now = state.clock.now()
    invoice, amount = parts["invoice"], parts["amount"]
    allocation = add_allocation(credit, invoice, amount, parts["date"] or now.date())
    invoice["CreditNotes"].append(
        {
            "CreditNoteID": credit["CreditNoteID"],
            "CreditNoteNumber": credit.get("CreditNoteNumber"),
            "AppliedAmount": amount,
            "Total": credit["Total"],
        }
    )
    _settle(state, org, credit, now, allocation["Date"])
    _settle(state, org, invoice, now, allocation["Date"])
    return {**allocation, "CreditNote": {"CreditNoteID": credit["CreditNoteID"]}}


def delete_allocation(state: XeroState, org: Organisation, credit: dict, allocation: dict) -> dict:
    """Xero's DELETE of an allocation: the credit returns to the note, the amount to the invoice."""
    now = state.clock.now()
    invoice = org.invoices[allocation["Invoice"]["InvoiceID"]]
    amount = allocation["Amount"]
    allocation["IsDeleted"] = True
    credit["AppliedAmount"] = cents(credit["AppliedAmount"] - amount)
    invoice["AmountCredited"] = cents(invoice["AmountCredited"] - amount)
    for applied in invoice["CreditNotes"]:
        if applied["CreditNoteID"] == credit["CreditNoteID"] and applied["AppliedAmount"] == amount:
            invoice["CreditNotes"].remove(applied)
            break
    for doc in (credit, invoice):
        if doc["Status"] == "PAID":
            doc["Status"] = "AUTHORISED"
            doc.pop("FullyPaidOnDate", None)
        _settle(state, org, doc, now)
    return {**allocation, "CreditNote": {"CreditNoteID": credit["CreditNoteID"]}}


def record_overpayment(
    state: XeroState, org: Organisation, contact_id: str, amount: Decimal, account: dict, on: date, reference: str
) -> dict:
    """Money received beyond an invoice's amount due: an Overpayment (a
    RECEIVE-OVERPAYMENT credit) carrying its own payment from the bank account."""
    now = state.clock.now()
    amount = cents(amount)
    record = received_credit(
        "OverpaymentID", "RECEIVE-OVERPAYMENT", contact_id, amount, on, account["Code"], reference, now
    )
    overpayment_id = record["OverpaymentID"]
    payment_id = str(uuid.uuid4())
    org.payments[payment_id] = {
        "PaymentID": payment_id,
        "Date": on,
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": Decimal(1),
        "Reference": reference,
        "IsReconciled": False,
        "Status": "AUTHORISED",
        "PaymentType": "AROVERPAYMENTPAYMENT",
        "UpdatedDateUTC": now,
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "_doc": ("overpayment", overpayment_id),
    }
    record["Payments"].append({"PaymentID": payment_id, "Date": on, "Amount": amount, "Reference": reference})
    org.overpayments[overpayment_id] = record
    return record


def render_payment(org: Organisation, payment: dict) -> dict:
    out = with_date_strings({k: val for k, val in payment.items() if not k.startswith("_")}, dates=())
    kind, doc_id = payment["_doc"]
    if kind == "invoice":
        doc = org.invoices[doc_id]
        contact = org.contacts.get(doc["Contact"]["ContactID"], {})
        out["Invoice"] = {
            "InvoiceID": doc_id,
            "InvoiceNumber": doc.get("InvoiceNumber"),
            "Type": doc["Type"],
            "Contact": {"ContactID": doc["Contact"]["ContactID"], "Name": contact.get("Name")},
            "CurrencyCode": doc.get("CurrencyCode"),
        }
    elif kind == "credit":
        doc = org.credit_notes[doc_id]
        out["CreditNote"] = {
            "CreditNoteID": doc_id,
            "CreditNoteNumber": doc.get("CreditNoteNumber"),
            "Type": doc["Type"],
            "Contact": {"ContactID": doc["Contact"]["ContactID"]},
        }
    else:
        out["Overpayment"] = {
            "OverpaymentID": doc_id,
            "Type": "RECEIVE-OVERPAYMENT",
            "Contact": org.overpayments[doc_id]["Contact"],
        }
    return out


def render_overpayment(record: dict) -> dict:
    """An Overpayment as Xero returns it: dates also as text, `ID` beside `OverpaymentID`."""
    return {**with_date_strings(record), "ID": record["OverpaymentID"]}
