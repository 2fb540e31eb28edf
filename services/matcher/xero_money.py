"""A `xero.payments.v1` event as the matcher reads it: one amount of money Xero
holds against (or beside) a sales invoice. Pure: validation and parsing only.

Ingest reads three Xero collections and emits one event per thing that can move
a ConnectWise balance (see docs/payments.md):
- `payment`: a Payment (ACCRECPAYMENT on a sales invoice, or another type the
  matcher skips), keyed by its PaymentID;
- `allocation`: part of an overpayment or prepayment allocated to an invoice,
  keyed by its AllocationID (`parent_id` names the overpayment or prepayment);
- `overpayment` / `prepayment`: the credit not allocated to any invoice yet,
  keyed by the OverpaymentID or PrepaymentID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal, overload

CENT = Decimal("0.01")
REMOVED_STATUSES = frozenset({"DELETED", "VOIDED"})
# The Payment types that pay a sales invoice; every other type (bills, cash refunds of
# credit notes, the bank side of an overpayment or prepayment) concerns no ConnectWise invoice.
SALES_PAYMENT_TYPES = frozenset({"ACCRECPAYMENT"})


class Source(StrEnum):
    PAYMENT = "payment"
    ALLOCATION = "allocation"
    OVERPAYMENT = "overpayment"
    PREPAYMENT = "prepayment"


class BadEvent(ValueError):
    """An event the matcher can never act on (poison): names the field and why."""


@dataclass(frozen=True)
class XeroMoney:
    organisation_id: str
    payment_id: str  # PaymentID, AllocationID, OverpaymentID or PrepaymentID (the record's id)
    source: Source
    payment_type: str
    status: str
    amount: Decimal
    invoice_id: str | None  # Xero InvoiceID it is against, when it is against one
    invoice_number: str | None
    contact_id: str | None
    contact_name: str | None
    reference: str | None
    payment_date: date | None
    updated_at: datetime  # Xero's UpdatedDateUTC: which version of the record this is
    observed_at: datetime  # when ingest read it (the record lifecycle's observation)
    parent_id: str | None = None
    trigger: str = "SCHEDULE"

    @property
    def key(self) -> tuple[str, str]:
        return (self.organisation_id, self.payment_id)

    @property
    def removed(self) -> bool:
        """Deleted or voided in Xero, or an allocation taken back: nothing of it stands."""
        return self.status.upper() in REMOVED_STATUSES

    @property
    def pays_an_invoice(self) -> bool:
        """Money Xero counts against a sales invoice's amount due."""
        if self.source is Source.PAYMENT:
            return self.payment_type.upper() in SALES_PAYMENT_TYPES
        return self.source is Source.ALLOCATION

    @property
    def label(self) -> str:
        kind = {
            Source.PAYMENT: "payment",
            Source.ALLOCATION: "allocation",
            Source.OVERPAYMENT: "overpayment",
            Source.PREPAYMENT: "prepayment",
        }[self.source]
        return f"Xero {kind} {self.payment_id}"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _utc(value: object, name: str) -> datetime:
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    if not isinstance(value, datetime):
        raise BadEvent(f"{name}: missing or not a time ({value!r})")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@overload
def _text(record: dict, name: str, required: Literal[True]) -> str: ...
@overload
def _text(record: dict, name: str, required: bool = False) -> str | None: ...
def _text(record: dict, name: str, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadEvent(f"{name}: missing")
        return None
    return str(value).strip()


def from_event(record: dict) -> XeroMoney:
    """Validates a decoded `xero_payment_received` record."""
    try:
        amount = Decimal(record["amount"])
    except (InvalidOperation, TypeError, ValueError, KeyError):
        raise BadEvent(f"amount: not a number ({record.get('amount')!r})") from None
    if not amount.is_finite() or amount < 0:
        raise BadEvent(f"amount: must be zero or more, got {amount}")
    try:
        source = Source(record.get("source") or Source.PAYMENT)
    except ValueError:
        raise BadEvent(f"source: {record.get('source')!r} is not one of {', '.join(Source)}") from None
    paid_on = _text(record, "payment_date")
    try:
        payment_date = date.fromisoformat(paid_on[:10]) if paid_on else None
    except ValueError:
        raise BadEvent(f"payment_date: not a date ({paid_on!r})") from None
    return XeroMoney(
        organisation_id=_text(record, "organisation_id", True),
        payment_id=_text(record, "payment_id", True),
        source=source,
        payment_type=_text(record, "payment_type") or "",
        status=_text(record, "status", True).upper(),
        amount=cents(amount),
        invoice_id=_text(record, "invoice_id"),
        invoice_number=_text(record, "invoice_number"),
        contact_id=_text(record, "contact_id"),
        contact_name=_text(record, "contact_name"),
        reference=record.get("reference"),
        payment_date=payment_date,
        updated_at=_utc(record.get("updated_at"), "updated_at"),
        observed_at=_utc(record.get("observed_at"), "observed_at"),
        parent_id=_text(record, "parent_id"),
        trigger=str(record.get("trigger") or "SCHEDULE"),
    )


def to_json(money: XeroMoney) -> dict:
    """The payment as the ledger keeps it, to decide it again later."""
    return {
        "organisation_id": money.organisation_id,
        "payment_id": money.payment_id,
        "source": money.source.value,
        "payment_type": money.payment_type,
        "status": money.status,
        "amount": str(money.amount),
        "invoice_id": money.invoice_id,
        "invoice_number": money.invoice_number,
        "contact_id": money.contact_id,
        "contact_name": money.contact_name,
        "reference": money.reference,
        "payment_date": money.payment_date.isoformat() if money.payment_date else None,
        "updated_at": money.updated_at.isoformat(),
        "observed_at": money.observed_at.isoformat(),
        "parent_id": money.parent_id,
        "trigger": money.trigger,
    }


def from_json(data: dict) -> XeroMoney:
    return from_event(
        {
            **data,
            "updated_at": datetime.fromisoformat(data["updated_at"]),
            "observed_at": datetime.fromisoformat(data["observed_at"]),
        }
    )
