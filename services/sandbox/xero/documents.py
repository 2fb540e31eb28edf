"""Invoices and credit notes: normalising a request element, validating it,
and saving batches with Xero's PUT/POST and summarizeErrors semantics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import validation as v
from .books import document_errors, settle_currency
from .serialize import parse_date, parse_decimal, with_date_strings
from .state import Organisation, XeroState, new_contact
from .totals import recompute

_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
_LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
FAULT_MESSAGE = "The record failed validation (sandbox fault injection)."


@dataclass(frozen=True)
class Kind:
    collection: str
    id_field: str
    number_field: str
    types: tuple[str, ...]
    plural: str
    category: str
    prefix: str


INVOICE = Kind("invoices", "InvoiceID", "InvoiceNumber", ("ACCREC", "ACCPAY"), "Invoices", "INVOICE", "INV-")
CREDIT_NOTE = Kind(
    "credit_notes",
    "CreditNoteID",
    "CreditNoteNumber",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    "CreditNotes",
    "CREDITNOTE",
    "CN-",
)


def _line(raw: Any, index: int, errors: list[str]) -> dict[str, Any]:
    line: dict[str, Any] = {}
    if not isinstance(raw, dict):
        errors.append(f"LineItems[{index}]: must be an object")
        return line
    for key in ("Description", "ItemCode", "AccountCode", "TaxType", "LineItemID"):
        if raw.get(key) is not None:
            line[key] = str(raw[key])
    for key in ("Quantity", "UnitAmount", "LineAmount", "DiscountRate", "TaxAmount"):
        if raw.get(key) is not None:
            try:
                line[key] = parse_decimal(raw[key], f"LineItems[{index}].{key}")
            except ValueError as exc:
                errors.append(str(exc))
    if "TaxAmount" in line:
        line["_tax_given"] = True  # "can be overriden if the calculated TaxAmount is not correct" (totals.py)
    tracking = raw.get("Tracking")
    if tracking is not None:
        line["Tracking"] = [dict(t) for t in tracking if isinstance(t, dict)] if isinstance(tracking, list) else []
    return line


def normalize(kind: Kind, raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The parseable fields of a request element, and what could not be parsed."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        return {}, ["The element must be an object."]
    doc: dict[str, Any] = {}
    for key in (kind.id_field,):
        if raw.get(key):
            doc[key] = str(raw[key]).lower()
    for key in (kind.number_field, "Reference", "CurrencyCode", "Url", "BrandingThemeID"):
        if raw.get(key) is not None:
            doc[key] = str(raw[key])
    if raw.get("Type") is not None:
        if raw["Type"] in kind.types:
            doc["Type"] = raw["Type"]
        else:
            errors.append(f"Type: must be one of {', '.join(kind.types)}")
    if raw.get("Status") is not None:
        if raw["Status"] in _STATUSES:
            doc["Status"] = raw["Status"]
        else:
            errors.append(f"Status: '{raw['Status']}' is not a valid status")
    if raw.get("LineAmountTypes") is not None:
        if raw["LineAmountTypes"] in _LINE_AMOUNT_TYPES:
            doc["LineAmountTypes"] = raw["LineAmountTypes"]
        else:
            errors.append(f"LineAmountTypes: must be one of {', '.join(_LINE_AMOUNT_TYPES)}")
    for key in ("Date", "DueDate", "ExpectedPaymentDate"):
        if raw.get(key):
            try:
                doc[key] = parse_date(raw[key], key)
            except ValueError as exc:
                errors.append(str(exc))
    if isinstance(raw.get("Contact"), dict):
        doc["Contact"] = {
            k: str(raw["Contact"][k]) for k in ("ContactID", "ContactNumber", "Name") if raw["Contact"].get(k)
        }
    if raw.get("SentToContact") is not None:
        doc["SentToContact"] = bool(raw["SentToContact"])
    if raw.get("CurrencyRate") is not None:
        try:
            doc["CurrencyRate"] = parse_decimal(raw["CurrencyRate"], "CurrencyRate")
        except ValueError as exc:
            errors.append(str(exc))
    if raw.get("LineItems") is not None:
        items = raw["LineItems"] if isinstance(raw["LineItems"], list) else []
        doc["LineItems"] = [_line(item, i, errors) for i, item in enumerate(items)]
    return doc, errors


def _validate(
    state: XeroState, org: Organisation, kind: Kind, doc: dict, existing: dict | None, batch_numbers: set[str]
) -> list[str]:
    errors: list[str] = []
    if existing is None:
        if "Type" not in doc:
            errors.append(f"Type: must be one of {', '.join(kind.types)}")
        errors.extend(v.contact_errors(org, doc.get("Contact")))
    elif "Contact" in doc:
        errors.extend(v.contact_errors(org, doc["Contact"]))
    content_keys = set(doc) - {kind.id_field, "Status", kind.number_field}
    errors.extend(v.status_change_errors(existing, doc.get("Status"), bool(content_keys)))
    for index, line in enumerate(doc.get("LineItems", [])):
        errors.extend(v.line_errors(org, line, index))
    errors.extend(document_errors(org, doc, existing))
    doc_type = doc.get("Type") or (existing or {}).get("Type")
    number = doc.get(kind.number_field)
    if kind is INVOICE and doc_type == "ACCREC" and number:
        clash = org.invoice_by_number(number)
        if (clash is not None and clash is not existing) or number in batch_numbers:
            errors.append(v.NUMBER_NOT_UNIQUE)
        batch_numbers.add(number)
    if state.fail_next.get(kind.collection, 0) > 0:
        state.fail_next[kind.collection] -= 1
        errors.append(FAULT_MESSAGE)
    return errors


def _find_existing(
    org: Organisation, kind: Kind, doc: dict, method: str, target_id: str | None
) -> tuple[dict | None, str | None]:
    records = getattr(org, kind.collection)
    wanted = (target_id or doc.get(kind.id_field) or "").lower()
    if wanted:
        found = records.get(wanted)
        if found is None and kind is INVOICE and target_id and not _looks_like_id(target_id):
            found = org.invoice_by_number(target_id)  # /Invoices/{InvoiceNumber}
        return found, None if found else v.NOT_FOUND
    if method == "POST" and kind is INVOICE and doc.get("InvoiceNumber"):
        return org.invoice_by_number(doc["InvoiceNumber"], doc.get("Type", "ACCREC")), None
    return None, None


def _looks_like_id(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def _resolve_lines(org: Organisation, lines: list[dict]) -> list[dict]:
    for line in lines:
        line.setdefault("LineItemID", str(uuid.uuid4()))
        if "Tracking" in line:
            line["Tracking"] = [v.resolve_tracking(org, t) for t in line["Tracking"]]
        else:
            line["Tracking"] = []
    return lines


def _resolve_contact(state: XeroState, org: Organisation, ref: dict) -> dict:
    contact = org.find_contact(ref)
    if contact is None:  # a bare Name: Xero creates the contact
        now = state.clock.now()
        contact_id = str(uuid.uuid4())
        contact = new_contact(contact_id, Name=ref["Name"], IsCustomer=True, UpdatedDateUTC=now)
        org.contacts[contact_id] = contact
        state.notify(org.tenant_id, "CONTACT", contact_id, "CREATE")
    return {"ContactID": contact["ContactID"]}


def _apply(state: XeroState, org: Organisation, kind: Kind, doc: dict, existing: dict | None) -> dict:
    now = state.clock.now()
    if "LineItems" in doc:
        doc["LineItems"] = _resolve_lines(org, doc["LineItems"])
    if "Contact" in doc:
        doc["Contact"] = _resolve_contact(state, org, doc["Contact"])
    if existing is None:
        record: dict[str, Any] = {
            kind.id_field: doc.get(kind.id_field) or str(uuid.uuid4()),
            "Status": "DRAFT",
            "LineAmountTypes": "Exclusive",
            "CurrencyCode": org.base_currency,
            "CurrencyRate": None,
            "Date": now.date(),
            "LineItems": [],
            "Payments": [],
            "HasAttachments": False,
            "Reference": "",
            "SentToContact": False,
        }
        if kind is INVOICE:
            record.update(
                {
                    "CreditNotes": [],
                    "Overpayments": [],
                    "Prepayments": [],
                    "IsDiscounted": False,
                    "AmountPaid": Decimal("0.00"),
                    "AmountCredited": Decimal("0.00"),
                }
            )
        else:
            record.update({"Allocations": [], "AppliedAmount": Decimal("0.00")})
        record.update(doc)
        if not record.get(kind.number_field) and record["Type"] in ("ACCREC", "ACCRECCREDIT"):
            record[kind.number_field] = _next_number(org, kind)
        event = "CREATE"
        old_number = None
    else:
        record = existing
        old_number = record.get(kind.number_field)
        record.update(doc)
        event = "UPDATE"
    settle_currency(org, record)
    recompute(record, org.tax_rates)
    if record["Status"] == "AUTHORISED" and record["Total"] == 0:
        # Xero marks an approved document of nothing paid at once; from then on it refuses changes.
        record["Status"] = "PAID"
        record["FullyPaidOnDate"] = record.get("Date") or now.date()
    record["UpdatedDateUTC"] = now
    if kind is INVOICE:
        org.put_invoice(record, old_number)
    else:
        org.credit_notes[record[kind.id_field]] = record
    state.notify(org.tenant_id, kind.category, record[kind.id_field], event)
    return record


def _next_number(org: Organisation, kind: Kind) -> str:
    used = {r.get(kind.number_field) for r in getattr(org, kind.collection).values()}
    n = len(used) + 1
    while f"{kind.prefix}{n:04d}" in used:
        n += 1
    return f"{kind.prefix}{n:04d}"


def render(org: Organisation, kind: Kind, record: dict) -> dict:
    """A stored document as the API returns it: contact expanded, dates also as text,
    `HasErrors` on invoices and, on credit notes, `ID` beside `CreditNoteID` (as Xero
    writes both)."""
    out = with_date_strings(record)
    if kind is INVOICE:
        out.setdefault("HasErrors", False)
    else:
        out["ID"] = record.get("CreditNoteID")
    contact = org.contacts.get(record.get("Contact", {}).get("ContactID", ""))
    if contact is not None:
        out["Contact"] = {
            k: contact.get(k)
            for k in ("ContactID", "ContactNumber", "Name", "ContactStatus", "EmailAddress", "HasValidationErrors")
        }
    return out


def save_batch(
    state: XeroState,
    org: Organisation,
    kind: Kind,
    elements: list,
    *,
    method: str,
    summarize: bool,
    target_id: str | None = None,
) -> tuple[int, list[dict], bool]:
    """Validate every element, then save. Returns (status, elements, failed):
    with summarize any error saves nothing (400); without, good ones are saved
    and each element carries StatusAttributeString."""
    with state.lock:
        plans = []
        batch_numbers: set[str] = set()
        for raw in elements:
            doc, errors = normalize(kind, raw)
            existing, missing = _find_existing(org, kind, doc, method, target_id)
            if missing:
                errors.append(missing)
            errors.extend(_validate(state, org, kind, doc, existing, batch_numbers))
            plans.append((doc, existing, errors))
        failed = any(errors for _, _, errors in plans)
        out: list[dict] = []
        if summarize and failed:
            for doc, existing, errors in plans:
                shown = render(org, kind, existing) if existing else dict(doc)
                out.append({**shown, "ValidationErrors": [{"Message": m} for m in errors]})
            return 400, out, True
        for doc, existing, errors in plans:
            if errors:
                shown = {**(render(org, kind, existing) if existing else doc), "HasErrors": True}
                out.append(
                    {**shown, "StatusAttributeString": "ERROR", "ValidationErrors": [{"Message": m} for m in errors]}
                )
                continue
            saved = render(org, kind, _apply(state, org, kind, doc, existing))
            if not summarize:
                saved.update(StatusAttributeString="OK", ValidationErrors=[])
            out.append(saved)
        return 200, out, failed
