"""What each kind of record means, declared once: its name in the admin API and
settings, where it is read, its topic, the Xero document it becomes (endpoint,
id and number fields) and its ConnectWise route. Every service reads these
instead of spelling a kind's endpoint or field again.

`RecordKind` is a `StrEnum`, so a kind compares equal to its name
(`RecordKind.INVOICE == "invoice"`) and travels in Avro events and SQL as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

from .topics import CW_INVOICES, CW_CREDIT_NOTES, CW_PAYMENTS, CW_PROCUREMENTS, CW_REFUNDS, XERO_PAYMENTS, Topic


@dataclass(frozen=True)
class XeroDocument:
    """The Xero collection a kind is written to or read from, and its fields."""

    endpoint: str  # e.g. "Invoices"
    id_field: str  # e.g. "InvoiceID"
    number_field: str | None  # e.g. "InvoiceNumber"; payments have none
    number_unique: bool  # Xero refuses a second document with the same number (ACCREC, ACCRECCREDIT)


INVOICES = XeroDocument("Invoices", "InvoiceID", "InvoiceNumber", True)
BILLS = XeroDocument("Invoices", "InvoiceID", "InvoiceNumber", False)  # ACCPAY numbers are not unique
CREDIT_NOTES = XeroDocument("CreditNotes", "CreditNoteID", "CreditNoteNumber", True)
PAYMENTS = XeroDocument("Payments", "PaymentID", None, False)
DOCUMENTS_BY_ENDPOINT = {d.endpoint: d for d in (INVOICES, CREDIT_NOTES, PAYMENTS)}


@dataclass(frozen=True)
class KindSpec:
    label: str  # how a person reads it: "credit note", "purchase order"
    source: str  # where it is read: "connectwise" or "xero"
    topic: Topic  # where ingest publishes it
    xero: XeroDocument
    cw_route: str  # the ConnectWise collection it is read from or applied to


class RecordKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PROCUREMENT = "procurement"
    PAYMENT = "payment"  # a ConnectWise payment on an invoice, written to Xero
    REFUND = "refund"  # money paid back against a ConnectWise credit memo, written to Xero
    XERO_PAYMENT = "xero_payment"  # a Xero payment, applied back in ConnectWise

    @property
    def spec(self) -> KindSpec:
        return _SPECS[self]

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def topic(self) -> Topic:
        return self.spec.topic

    @property
    def xero(self) -> XeroDocument:
        return self.spec.xero

    @property
    def cw_route(self) -> str:
        return self.spec.cw_route

    @property
    def from_connectwise(self) -> bool:
        return self.spec.source == "connectwise"

    @classmethod
    def parse(cls, value: object) -> "RecordKind":
        """The kind named `value`; a ValueError names the field and the choices."""
        try:
            return cls(str(value))
        except ValueError:
            raise ValueError(f"record_type: {value!r} is not one of {', '.join(RECORD_TYPES)}") from None


_SPECS = {
    RecordKind.INVOICE: KindSpec("invoice", "connectwise", CW_INVOICES, INVOICES, "finance/invoices"),
    RecordKind.CREDIT_NOTE: KindSpec("credit note", "connectwise", CW_CREDIT_NOTES, CREDIT_NOTES, "finance/invoices"),
    RecordKind.PROCUREMENT: KindSpec(
        "purchase order", "connectwise", CW_PROCUREMENTS, BILLS, "procurement/purchaseorders"
    ),
    RecordKind.PAYMENT: KindSpec(
        "ConnectWise payment", "connectwise", CW_PAYMENTS, PAYMENTS, "finance/invoices/{invoice_id}/payments"
    ),
    RecordKind.REFUND: KindSpec(
        "refund", "connectwise", CW_REFUNDS, PAYMENTS, "finance/invoices/{invoice_id}/payments"
    ),
    RecordKind.XERO_PAYMENT: KindSpec(
        "Xero payment", "xero", XERO_PAYMENTS, PAYMENTS, "finance/invoices/{invoice_id}/payments"
    ),
}

# ConnectWise to Xero first, then Xero payments back to ConnectWise.
RECORD_TYPES: tuple[str, ...] = tuple(k.value for k in RecordKind)
# The same names as a type, for what a checker and an API's schema read (a route's record_type).
RecordTypeName = Literal["invoice", "credit_note", "procurement", "payment", "refund", "xero_payment"]
if get_args(RecordTypeName) != RECORD_TYPES:
    raise ImportError("RecordTypeName must name every RecordKind, in order")
# The documents the mapper routes and maps into Xero documents.
DOCUMENT_KINDS = (RecordKind.INVOICE, RecordKind.CREDIT_NOTE, RecordKind.PROCUREMENT)
# Money moving between the two systems.
MONEY_KINDS = (RecordKind.PAYMENT, RecordKind.REFUND, RecordKind.XERO_PAYMENT)
