"""Allocating a credit (a credit note, an overpayment or a prepayment) to invoices, as Xero does:
each allocation checked against the credit and the invoice, kept on the credit, counted on the
invoice, and the answer of a PUT .../Allocations."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from . import validation as v
from .api_support import NOT_FOUND_BODY, Api
from .serialize import parse_date, parse_decimal
from .state import Organisation
from .totals import ZERO, cents


def allocation_errors(
    org: Organisation, credit: dict, raw: Any, *, kind: str, pays: str | None = None
) -> tuple[list[str], dict]:
    """What Xero would refuse in one allocation of `credit` (a `kind`, in words), and its parts.
    `pays`: the one invoice Type the credit may go to (None: any)."""
    if not isinstance(raw, dict):
        return ["The element must be an object."], {}
    errors: list[str] = []
    ref = raw.get("Invoice")
    if not isinstance(ref, dict):
        ref = {}
    invoice = org.invoices.get(str(ref.get("InvoiceID", "")).lower())
    if invoice is None or (pays is not None and invoice["Type"] != pays):
        errors.append(v.NOT_FOUND)
    elif invoice["Status"] != "AUTHORISED":
        errors.append(v.NOT_VALID_STATUS)
    if credit["Status"] != "AUTHORISED":
        errors.append(f"Only AUTHORISED {kind}s can be allocated.")
    parts: dict[str, Any] = {"invoice": invoice}
    try:
        parts["amount"] = amount = cents(parse_decimal(raw.get("Amount"), "Amount"))
        if amount <= 0:
            errors.append("Amount: the allocated amount must be greater than zero.")
        elif amount > credit["RemainingCredit"]:
            errors.append(f"The amount allocated exceeds the remaining credit on the {kind}.")
        elif invoice is not None and amount > invoice["AmountDue"]:
            errors.append(v.PAYMENT_TOO_BIG)
        parts["date"] = parse_date(raw["Date"], "Date") if raw.get("Date") else None
    except ValueError as exc:
        errors.append(str(exc))
    return errors, parts


def add_allocation(credit: dict, invoice: dict, amount: Decimal, on: date) -> dict:
    """The allocation kept on the credit, its amount applied there and credited to the invoice
    (the caller settles both: their statuses and the kind's own fields)."""
    allocation = {
        "AllocationID": str(uuid.uuid4()),
        "Amount": amount,
        "Date": on,
        "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber")},
        "IsDeleted": False,
    }
    credit["Allocations"].append(allocation)
    credit["AppliedAmount"] = cents(credit["AppliedAmount"] + amount)
    invoice["AmountCredited"] = cents(invoice["AmountCredited"] + amount)
    return allocation


async def put_allocations(
    h: Api,
    request: Any,
    credit_of: Callable[[Organisation], dict | None],
    check: Callable[[Organisation, dict, Any], tuple[list[str], dict]],
    apply: Callable[[Organisation, dict, dict], dict],
) -> Any:
    """PUT .../Allocations on the credit `credit_of(org)` finds (None: 404): each element checked
    (`check(org, credit, element)`), the sound ones applied (`apply(org, credit, parts)`), the
    others answered with their errors (400 when summarizing)."""

    def act(payload: Any) -> tuple[int, Any]:
        org = h.org(request)
        with h.state.lock:
            credit = credit_of(org)
            if credit is None:
                return 404, NOT_FOUND_BODY
            out, failed = [], False
            for raw in h.elements_of(payload, "Allocations"):
                errors, parts = check(org, credit, raw)
                if errors:
                    failed = True
                    out.append(
                        {
                            **(raw if isinstance(raw, dict) else {}),
                            "StatusAttributeString": "ERROR",
                            "ValidationErrors": [{"Message": m} for m in errors],
                        }
                    )
                else:
                    out.append(apply(org, credit, parts))
            if failed and h.summarize(request):
                return 400, {**v.VALIDATION_EXCEPTION, "Elements": out}
            return 200, h.envelope("Allocations", out)

    return await h.write(request, act)


def received_credit(
    id_field: str, type_: str, contact_id: str, amount: Decimal, on: date, account_code: str, reference: str, now
) -> dict:
    """Money received as credit (an overpayment or a prepayment): one NoTax line of `amount` to
    `account_code`, all of it still to allocate."""
    return {
        id_field: str(uuid.uuid4()),
        "Type": type_,
        "Contact": {"ContactID": contact_id},
        "Date": on,
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [
            {
                "Description": reference or type_.split("-")[-1].capitalize(),
                "Quantity": Decimal(1),
                "UnitAmount": amount,
                "LineAmount": amount,
                "TaxAmount": ZERO,
                "AccountCode": account_code,
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
