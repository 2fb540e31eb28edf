"""What each kind of exception means, in words a finance person uses, and where in
the console the fix is made (the mapping or page that would fix it)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Help:
    title: str
    meaning: str
    fix: str
    fix_page: str | None = (
        None  # "contacts", "accounts", "tax", "tracking", "routing", "organisation", "payments", "record"
    )


HELP: dict[str, Help] = {
    "missing_contact": Help(
        "Customer has no Xero contact",
        "The ConnectWise company is not a contact in that Xero organisation, and no contact mapping names one.",
        "Add a contact mapping from the company's identifier to its Xero contact (or create the contact in Xero "
        "and refresh the organisation's catalog), then force-sync the record.",
        "contacts",
    ),
    "missing_tracking_option": Help(
        "No tracking option for a location or item",
        "A tracking category needs an option for this record's location, department or catalog item.",
        "Add a tracking mapping to an option that organisation has in Xero, then force-sync the record.",
        "tracking",
    ),
    "unknown_account": Help(
        "No Xero account for a line",
        "A line's catalog item or product class has no account mapping, or maps to an account Xero does not have.",
        "Add an account mapping (or the `*` fallback) to an active account code, then force-sync the record.",
        "accounts",
    ),
    "tax_mismatch": Help(
        "Tax does not line up",
        "The ConnectWise tax code has no Xero tax type, the tax type does not suit the account, or the tax "
        "ConnectWise charged differs from what Xero would.",
        "Add or correct the tax mapping for the tax code, then force-sync the record.",
        "tax",
    ),
    "no_route": Help(
        "No organisation takes this record",
        "No routing rule matched the record's location, staff member or tags, and there is no default rule.",
        "Add a routing rule (or a default), then force-sync the record.",
        "routing",
    ),
    "route_changed": Help(
        "Now routed to another organisation",
        "The record is already in one Xero organisation and the rules now send it to another.",
        "Void or delete it in the old organisation, then force-sync it.",
        "record",
    ),
    "bad_record": Help(
        "The record cannot be read",
        "ConnectWise sent something Connect Zero cannot turn into a Xero document.",
        "Correct the record in ConnectWise; the next cycle reads it again.",
        "record",
    ),
    "xero_validation": Help(
        "Xero refused the document",
        "Xero answered with validation errors (shown in the message).",
        "Fix what Xero names (often in ConnectWise or a mapping), then force-sync the record.",
        "record",
    ),
    "xero_status_rule": Help(
        "Xero's status rules forbid the change",
        "The document is in a state in Xero (paid, approved, voided) in which this change cannot be written.",
        "Make the change in Xero by hand, or reverse the payment there first, then force-sync.",
        "record",
    ),
    "xero_request": Help(
        "Xero did not accept the request",
        "The call to Xero failed in a way retrying cannot fix.",
        "Read the audit entry for Xero's answer; force-sync once the cause is fixed.",
        "record",
    ),
    "xero_credential": Help(
        "The organisation's Xero connection is gone",
        "Xero refused the credential (revoked, or unused for 60 days).",
        "Reconnect the organisation to Xero; what waited is written at the next cycle.",
        "organisation",
    ),
    "write_failed": Help(
        "Writing kept failing",
        "Xero kept failing for this record after every retry.",
        "Read the audit entry; force-sync once Xero is answering.",
        "record",
    ),
    "missing_payment_account": Help(
        "No bank account for payments",
        "ConnectWise money needs a Xero bank account to go into, and this organisation has none set.",
        "Choose the organisation's bank account for payments in Settings, then force-sync.",
        "settings",
    ),
    "document_not_synced": Help(
        "Money for a document that is not in Xero",
        "A ConnectWise payment, refund or credit memo application is for an invoice or credit memo that could "
        "not be synced to Xero (the message says why), so Xero has nothing to apply it to.",
        "Fix the document's own exception so it is written to Xero, then force-sync the payment.",
        "record",
    ),
    "document_removed": Help(
        "Money for a document voided or deleted in Xero",
        "A ConnectWise payment, refund or credit memo application is for an invoice or credit memo that is "
        "VOIDED or DELETED in Xero, which takes no money on it.",
        "Record the money in Xero by hand, or reinstate the document there, then force-sync the payment.",
        "record",
    ),
    "money_mismatch": Help(
        "Invoice and credit memo are in different organisations",
        "Money cannot move between two Xero organisations.",
        "Route both to the same organisation, or apply the credit by hand.",
        "routing",
    ),
    "overpayment": Help(
        "Customer paid more than the invoice",
        "The excess was recorded in Xero as an overpayment; nothing beyond the balance was applied in ConnectWise.",
        "Refund the excess or allocate it to another invoice in Xero; the next payment cycle follows it.",
        "payments",
    ),
    "unmatched_payment": Help(
        "A Xero payment matches no ConnectWise invoice",
        "No invoice with that number, customer and room for the amount was found in ConnectWise.",
        "Move the payment to the right invoice in Xero, or fix the invoice or contact mapping, then force-sync "
        "the payment.",
        "payments",
    ),
    "application_unsettled": Help(
        "A payment application is unsettled",
        "Connect Zero could not confirm whether ConnectWise took a payment.",
        "Check the invoice's payments in ConnectWise; force-sync the payment.",
        "payments",
    ),
    "open_balance_difference": Help(
        "Open balances differ",
        "ConnectWise and Xero disagree about what is still owed on an invoice.",
        "Compare the invoice's payments in both systems (the cause is shown), then resolve.",
        "payments",
    ),
    "voided_in_xero": Help(
        "Voided in Xero",
        "Someone voided in Xero a document Connect Zero wrote.",
        "Decide which system is right: void it in ConnectWise too, or re-create it and force-sync.",
        "record",
    ),
    "deleted_in_xero": Help(
        "Deleted in Xero",
        "Someone deleted in Xero a document Connect Zero wrote.",
        "Decide which system is right, then force-sync or remove it in ConnectWise.",
        "record",
    ),
}
_MAPPING_TABLES = ("contacts", "accounts", "tax", "tracking")


def help_for(kind: str) -> Help:
    return HELP.get(
        kind,
        Help(
            kind.replace("_", " ").capitalize(),
            "See the message and the audit entry.",
            "Fix the cause, then force-sync the record.",
            "record",
        ),
    )


def fix_link(exc: dict) -> str | None:
    """The console page where this exception is fixed, pre-filled where the details allow."""
    page = help_for(exc["kind"]).fix_page
    org = exc.get("organisation_id") or ""
    details = exc.get("details") or {}
    if page in _MAPPING_TABLES:
        params = {"table": page, "organisation": org}
        if page == "contacts" and details.get("value"):
            params["company_identifier"] = details["value"]
        elif details.get("value"):
            params["source"] = details["value"]
        return f"/mappings?{urlencode(params)}"
    if page == "routing":
        return "/routing"
    if page == "organisation" and org:
        return f"/organisations/{org}"
    if page == "settings":
        return "/settings#payment-accounts"
    if page == "payments":
        return "/payments"
    return None
