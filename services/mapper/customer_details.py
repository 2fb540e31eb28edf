"""The Xero contact's billing email, address and phone, following the ConnectWise company's
billing contact when the organisation keeps customer details in step (its sync setting
`customer_details`). Sent with the document's write request; the writer updates the
contact when these differ from what it last sent. Only a contact Xero already has (one
found by id) is updated: a contact Xero creates from a document's name has none yet.
Pure."""

from __future__ import annotations

import json

from ..mapping.model import OrgMapping


def contact_details(record: dict, org: OrgMapping, contact: dict) -> str | None:
    billing = record.get("billing_contact")
    if not org.settings.customer_details or not billing or not contact.get("ContactID"):
        return None
    details: dict = {"ContactID": contact["ContactID"]}
    if billing.get("email"):
        details["EmailAddress"] = billing["email"].strip()
    address = {
        name: (billing.get(field) or "").strip()
        for name, field in (
            ("AddressLine1", "address_line1"),
            ("AddressLine2", "address_line2"),
            ("City", "city"),
            ("Region", "region"),
            ("PostalCode", "postal_code"),
            ("Country", "country"),
        )
    }
    if any(address.values()):
        # Xero's postal address (POBOX) is the one it prints on invoices: the billing address.
        details["Addresses"] = [{"AddressType": "POBOX", **{k: v for k, v in address.items() if v}}]
    if billing.get("phone"):
        details["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": billing["phone"].strip()}]
    return json.dumps(details, sort_keys=True) if len(details) > 1 else None
