"""Xero-style validation of line items, contacts, numbers and status changes,
with Xero's own message wording. Pure functions over an Organisation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .state import Organisation

VALIDATION_EXCEPTION = {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred"}

NOT_VALID_STATUS = "Invoice not of valid status for modification"
HAS_ALLOCATIONS = "This document cannot be edited as it has a payment or credit note allocated to it."
NUMBER_NOT_UNIQUE = "Invoice # must be unique."
PAYMENT_TOO_BIG = "Payment amount exceeds the amount outstanding on this document"
NOT_FOUND = "The document with the supplied id was not found for this endpoint."
NO_CONTACT = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)

CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
# Which status a document may move to from its current one (an unchanged
# status is always allowed); VOIDED additionally needs nothing allocated.
TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
    "PAID": set(),
    "VOIDED": set(),
    "DELETED": set(),
}


def account_message(code: str) -> str:
    return f"Account code '{code}' is not a valid code for this document."


# The TaxRates element names its flags in the plural (CanApplyToExpenses, ...).
_APPLY_FLAG = {
    "REVENUE": "CanApplyToRevenue",
    "EXPENSE": "CanApplyToExpenses",
    "ASSET": "CanApplyToAssets",
    "LIABILITY": "CanApplyToLiabilities",
    "EQUITY": "CanApplyToEquity",
}


def line_errors(org: Organisation, line: dict[str, Any], index: int) -> list[str]:
    """Account, tax type and tracking of one line item."""
    errors: list[str] = []
    code = line.get("AccountCode")
    account = None
    if code is not None:
        account = org.accounts.get(str(code))
        if account is None or account["Status"] != "ACTIVE":
            errors.append(account_message(code))
            account = None
    tax_type = line.get("TaxType")
    if tax_type is not None:
        rate = org.tax_rates.get(str(tax_type))
        if rate is None or rate["Status"] != "ACTIVE":
            errors.append(f"The TaxType code {tax_type} does not exist or cannot be used for this type of transaction.")
        elif account is not None:
            flag = _APPLY_FLAG[org.account_class(account)]
            if not rate.get(flag, False):
                errors.append(f"The TaxType code '{tax_type}' cannot be used with account code '{code}'.")
    tracking = line.get("Tracking") or []
    if len(tracking) > 2:
        errors.append("A maximum of 2 tracking categories can be applied to a line item.")
    for entry in tracking:
        errors.extend(_tracking_errors(org, entry))
    return errors


def _tracking_errors(org: Organisation, entry: dict[str, Any]) -> list[str]:
    cat_ref = entry.get("TrackingCategoryID") or entry.get("Name")
    category = next(
        (
            c
            for c in org.tracking
            if cat_ref and (c["TrackingCategoryID"] == str(cat_ref).lower() or c["Name"] == cat_ref)
        ),
        None,
    )
    if category is None or category["Status"] != "ACTIVE":
        return [f"The Tracking Category '{cat_ref}' does not exist or is not active."]
    opt_ref = entry.get("TrackingOptionID") or entry.get("Option")
    option = next(
        (
            o
            for o in category["Options"]
            if opt_ref and (o["TrackingOptionID"] == str(opt_ref).lower() or o["Name"] == opt_ref)
        ),
        None,
    )
    if option is None or option["Status"] != "ACTIVE":
        return [
            f"The Tracking Option '{opt_ref}' does not match an active option of the Tracking Category "
            f"'{category['Name']}'."
        ]
    return []


def resolve_tracking(org: Organisation, entry: dict[str, Any]) -> dict[str, Any]:
    """A valid tracking reference in the full form Xero returns."""
    cat_ref = entry.get("TrackingCategoryID") or entry.get("Name")
    category = next(c for c in org.tracking if c["TrackingCategoryID"] == str(cat_ref).lower() or c["Name"] == cat_ref)
    opt_ref = entry.get("TrackingOptionID") or entry.get("Option")
    option = next(
        o for o in category["Options"] if o["TrackingOptionID"] == str(opt_ref).lower() or o["Name"] == opt_ref
    )
    return {
        "TrackingCategoryID": category["TrackingCategoryID"],
        "TrackingOptionID": option["TrackingOptionID"],
        "Name": category["Name"],
        "Option": option["Name"],
    }


def contact_errors(org: Organisation, ref: Any) -> list[str]:
    if not isinstance(ref, dict) or not any(ref.get(k) for k in ("ContactID", "ContactNumber", "Name")):
        return [NO_CONTACT]
    if org.find_contact(ref) is None and not ref.get("Name"):
        # A bare Name creates a contact (as Xero does); an id or number must exist.
        if ref.get("ContactID"):
            return [f"The contact with ContactID '{ref['ContactID']}' could not be found."]
        return [f"The contact with ContactNumber '{ref['ContactNumber']}' could not be found."]
    return []


def status_change_errors(current: dict[str, Any] | None, new_status: str | None, changes_content: bool) -> list[str]:
    """Xero's status rules for an update (current is None for a create)."""
    if current is None:
        if new_status is not None and new_status not in CREATE_STATUSES:
            return [NOT_VALID_STATUS]
        return []
    status = current["Status"]
    target = new_status or status
    allocated = any(current.get(key, Decimal(0)) > 0 for key in ("AmountPaid", "AmountCredited", "AppliedAmount"))
    if target != status and target not in TRANSITIONS.get(status, set()):
        return [NOT_VALID_STATUS]
    if status in ("PAID", "VOIDED", "DELETED"):
        return [NOT_VALID_STATUS] if changes_content or target != status else []
    if allocated and (target == "VOIDED" or changes_content):
        return [HAS_ALLOCATIONS]
    return []
