"""Xero money as `xero.payments.v1` events, and Xero sales invoices as open
balances. Pure: the conversions and the content hash; `xero_payments.py` reads
Xero and emits.

What becomes an event (docs/payments.md):
- each Payment (any type: the matcher skips those that pay no sales invoice);
- each allocation of an overpayment or prepayment to an invoice (keyed by its
  AllocationID; taken back, or its parent voided, it is DELETED);
- each overpayment and prepayment itself, carrying the credit not allocated yet.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

SCALE = Decimal("0.0001")
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
CREDIT_KINDS = {"Overpayments": ("overpayment", "OverpaymentID"), "Prepayments": ("prepayment", "PrepaymentID")}


class XeroRecordError(ValueError):
    """A Xero record that cannot become an event; names the field and why."""


def xero_time(value: Any, field: str) -> datetime:
    """Xero's `/Date(ms+zone)/` (or ISO text) as a UTC datetime."""
    text = str(value or "").strip()
    found = _MS_DATE.fullmatch(text)
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise XeroRecordError(f"{field}: not a Xero date ({value!r})") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def xero_day(record: dict, field: str) -> str:
    """A Xero date as YYYY-MM-DD (the ISO `...String` beside it when Xero sent one)."""
    value = record.get(f"{field}String") or record.get(field)
    if not value:
        return ""
    return xero_time(value, field).date().isoformat() if str(value).startswith("/Date(") else str(value)[:10]


def amount(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        raise XeroRecordError(f"{field}: arrived as float; parse Xero JSON with Decimal")
    try:
        return Decimal(str(value if value is not None else 0)).quantize(SCALE)
    except InvalidOperation:
        raise XeroRecordError(f"{field}: not a number ({value!r})") from None


def updated_at(record: dict) -> datetime:
    return xero_time(record.get("UpdatedDateUTC") or record.get("UpdatedDateUTCString"), "UpdatedDateUTC")


def _raw(record: dict) -> str:
    return json.dumps(record, default=str, sort_keys=True, separators=(",", ":"))


def _base(org: tuple[str, str], record: dict, trigger: str, observed_at: datetime) -> dict:
    return {
        "organisation_id": org[0],
        "tenant_id": org[1],
        "currency": record.get("CurrencyCode") or "",
        "updated_at": updated_at(record),
        "trigger": trigger,
        "observed_at": observed_at,
        "raw": _raw(record),
        "parent_id": None,
    }


def payment_event(org: tuple[str, str], payment: dict, trigger: str, observed_at: datetime) -> dict:
    """`org` is (organisation id, tenant id)."""
    if not payment.get("PaymentID"):
        raise XeroRecordError("PaymentID: missing")
    invoice = payment.get("Invoice") or {}
    contact = invoice.get("Contact") or {}
    return {
        **_base(org, payment, trigger, observed_at),
        "source": "payment",
        "payment_id": payment["PaymentID"],
        "invoice_id": invoice.get("InvoiceID"),
        "invoice_number": invoice.get("InvoiceNumber"),
        "contact_id": contact.get("ContactID"),
        "contact_name": contact.get("Name"),
        "amount": amount(payment.get("Amount"), "Amount"),
        "currency": invoice.get("CurrencyCode") or "",
        "payment_date": xero_day(payment, "Date"),
        "status": str(payment.get("Status") or "AUTHORISED"),
        "payment_type": str(payment.get("PaymentType") or ""),
        "reference": payment.get("Reference"),
    }


def credit_events(
    org: tuple[str, str], collection: str, credit: dict, trigger: str, observed_at: datetime
) -> list[dict]:
    """An overpayment or prepayment: its unallocated credit, then one event per allocation."""
    kind, id_field = CREDIT_KINDS[collection]
    credit_id = credit.get(id_field) or credit.get("ID")
    if not credit_id:
        raise XeroRecordError(f"{id_field}: missing")
    contact = credit.get("Contact") or {}
    status = str(credit.get("Status") or "AUTHORISED")
    base = {
        **_base(org, credit, trigger, observed_at),
        "contact_id": contact.get("ContactID"),
        "contact_name": contact.get("Name"),
        "reference": credit.get("Reference"),
    }
    events = [
        {
            **base,
            "source": kind,
            "payment_id": credit_id,
            "invoice_id": None,
            "invoice_number": None,
            "amount": amount(credit.get("RemainingCredit"), "RemainingCredit"),
            "payment_date": xero_day(credit, "Date"),
            "status": status,
            "payment_type": str(credit.get("Type") or ""),
        }
    ]
    for allocation in credit.get("Allocations") or []:
        invoice = allocation.get("Invoice") or {}
        removed = bool(allocation.get("IsDeleted")) or status == "VOIDED"
        events.append(
            {
                **base,
                "source": "allocation",
                "parent_id": credit_id,
                "payment_id": allocation.get("AllocationID") or _allocation_id(credit_id, allocation),
                "invoice_id": invoice.get("InvoiceID"),
                "invoice_number": invoice.get("InvoiceNumber"),
                "amount": amount(allocation.get("Amount"), "Allocations.Amount"),
                "payment_date": xero_day(allocation, "Date"),
                "status": "DELETED" if removed else "AUTHORISED",
                "payment_type": f"{kind.upper()}-ALLOCATION",
            }
        )
    return events


def _allocation_id(credit_id: str, allocation: dict) -> str:
    """Older Xero answers carry no AllocationID: one stable id from what the allocation is."""
    invoice = (allocation.get("Invoice") or {}).get("InvoiceID", "")
    text = f"{credit_id}|{invoice}|{allocation.get('Amount')}|{allocation.get('Date')}"
    return "alloc-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def event_hash(event: dict) -> str:
    """What makes an event worth emitting again: the money, not when it was read."""
    kept = {
        k: (str(v) if isinstance(v, (Decimal, datetime)) else v)
        for k, v in event.items()
        if k not in ("trigger", "observed_at", "raw", "updated_at")
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def snapshot_of(event: dict) -> dict:
    """What sync_records keeps of a Xero payment (the balance check reads it)."""
    return {
        name: (str(event[name]) if isinstance(event[name], Decimal) else event[name])
        for name in (
            "source",
            "invoice_id",
            "invoice_number",
            "contact_name",
            "amount",
            "status",
            "payment_type",
            "parent_id",
            "payment_date",
        )
    }


def invoice_balance(invoice: dict) -> dict | None:
    """An ACCREC invoice's open balance as the balance check keeps it; None for anything else."""
    if invoice.get("Type") != "ACCREC" or not invoice.get("InvoiceID"):
        return None
    contact = invoice.get("Contact") or {}
    return {
        "xero_invoice_id": invoice["InvoiceID"],
        "invoice_number": invoice.get("InvoiceNumber"),
        "contact_id": contact.get("ContactID"),
        "contact_name": contact.get("Name"),
        "status": str(invoice.get("Status") or ""),
        "total": amount(invoice.get("Total"), "Total"),
        "amount_due": amount(invoice.get("AmountDue"), "AmountDue"),
        "updated_at_xero": updated_at(invoice),
    }
