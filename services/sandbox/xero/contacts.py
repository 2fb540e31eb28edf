"""Contacts: create and update with Xero's unique-name and ContactNumber rules."""

from __future__ import annotations

import uuid
from typing import Any

from .state import Organisation, XeroState, new_contact

_TEXT = (
    "Name",
    "ContactNumber",
    "AccountNumber",
    "EmailAddress",
    "FirstName",
    "LastName",
    "TaxNumber",
    "CompanyNumber",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "DefaultCurrency",
)
_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")


def _errors(org: Organisation, raw: dict, existing: dict | None) -> list[str]:
    errors = []
    name = raw.get("Name")
    if existing is None and not name:
        errors.append("The contact name must be specified.")
    if name is not None and len(str(name)) > 255:
        errors.append("Name: must be 255 characters or fewer.")
    if raw.get("ContactNumber") is not None and len(str(raw["ContactNumber"])) > 50:
        errors.append("ContactNumber: must be 50 characters or fewer.")
    if raw.get("ContactStatus") is not None and raw["ContactStatus"] not in _STATUSES:
        errors.append(f"ContactStatus: '{raw['ContactStatus']}' is not a valid status")
    if name:
        clash = next(
            (
                c
                for c in org.contacts.values()
                if c["Name"].lower() == str(name).lower() and c["ContactStatus"] == "ACTIVE" and c is not existing
            ),
            None,
        )
        if clash is not None:
            errors.append(
                f"The contact name {name} is already assigned to another contact. "
                "The contact name must be unique across all active contacts."
            )
    return errors


def save_contacts(
    state: XeroState, org: Organisation, elements: list, *, method: str, summarize: bool, target_id: str | None = None
) -> tuple[int, list[dict], bool]:
    with state.lock:
        plans: list[tuple[Any, dict | None, list[str]]] = []
        for raw in elements:
            if not isinstance(raw, dict):
                plans.append((raw, None, ["The element must be an object."]))
                continue
            wanted = (target_id or raw.get("ContactID") or "").lower()
            existing = org.contacts.get(wanted) if wanted else None
            if existing is None and not wanted and method == "POST" and raw.get("ContactNumber"):
                existing = org.find_contact({"ContactNumber": raw["ContactNumber"]})
            errors = (
                ["The document with the supplied id was not found for this endpoint."]
                if wanted and existing is None
                else _errors(org, raw, existing)
            )
            plans.append((raw, existing, errors))
        failed = any(e for _, _, e in plans)
        out = []
        for raw, existing, errors in plans:
            if errors:
                shown = {k: raw.get(k) for k in ("ContactID", *_TEXT)} if isinstance(raw, dict) else {}
                out.append(
                    {
                        **shown,
                        "HasValidationErrors": True,
                        "StatusAttributeString": "ERROR",
                        "ValidationErrors": [{"Message": m} for m in errors],
                    }
                )
            elif not (summarize and failed):
                saved = dict(_apply(state, org, raw, existing))
                if not summarize:
                    saved.update(StatusAttributeString="OK")
                out.append(saved)
            else:
                out.append({k: raw.get(k) for k in ("ContactID", *_TEXT)} | {"ValidationErrors": []})
        return (400 if summarize and failed else 200), out, failed


def _apply(state: XeroState, org: Organisation, raw: dict[str, Any], existing: dict | None) -> dict:
    now = state.clock.now()
    if existing is None:
        contact_id = str(uuid.uuid4())
        existing = new_contact(contact_id)
        org.contacts[contact_id] = existing
        event = "CREATE"
    else:
        event = "UPDATE"
    for key in _TEXT + ("ContactStatus",):
        if raw.get(key) is not None:
            existing[key] = str(raw[key])
    for key in ("Addresses", "Phones"):
        if isinstance(raw.get(key), list):
            existing[key] = [dict(item) for item in raw[key] if isinstance(item, dict)]
    existing["UpdatedDateUTC"] = now
    state.notify(org.tenant_id, "CONTACT", existing["ContactID"], event)
    return existing
