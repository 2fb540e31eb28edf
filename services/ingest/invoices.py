"""Pure conversion of a ConnectWise invoice or credit memo (with its product
lines) into a `cw_invoice_changed` event, its DELETED form, and the condition
that selects each type. No I/O here."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..integrations.connectwise.client import all_of, cond
from ..common.record_kinds import RecordKind
from .event_frame import SCHEDULED_NOW, Gone, Reading, deleted_frame, pick, upsert_frame
from .poller import (
    SCALE,
    RecordError,
    event_id,
    changed_since,
    content_hash,
    currency_code,
    custom_fields,
    date_only,
    dumps_cw_json,
    identifier_of,
    money,
    name_of,
    ref,
    ref_id,
)

CREDIT_MEMO = "CreditMemo"
INVOICE_TYPES = (RecordKind.INVOICE, RecordKind.CREDIT_NOTE)


def type_condition(record_type: str) -> str:
    """Invoices are every billing type but CreditMemo; credit notes are CreditMemo."""
    if record_type == RecordKind.INVOICE:
        return cond("type", "!=", CREDIT_MEMO)
    if record_type == RecordKind.CREDIT_NOTE:
        return cond("type", "=", CREDIT_MEMO)
    raise ValueError(f"record_type: {record_type!r} is not an invoice type (invoice, credit_note)")


def poll_conditions(record_type: str, cursor: datetime, overlap: timedelta) -> str:
    return all_of(type_condition(record_type), changed_since(cursor, overlap))


def record_type_of(invoice: dict) -> str:
    return (RecordKind.CREDIT_NOTE if invoice.get("type") == CREDIT_MEMO else RecordKind.INVOICE).value


def to_line(product: dict, cw_id: Any) -> dict:
    catalog = ref(product, "catalogItem")
    product_class = product.get("productClass")
    if isinstance(product_class, dict):
        product_class = product_class.get("name")
    cost = product.get("cost")
    return {
        "id": int(product["id"]),
        "description": str(product.get("description") or catalog.get("identifier") or ""),
        "catalog_item": catalog.get("identifier"),
        "product_class": product_class,
        "quantity": money(product.get("quantity"), cw_id, f"products[{product.get('id')}].quantity"),
        "price": money(product.get("price"), cw_id, f"products[{product.get('id')}].price"),
        "cost": None if cost is None else money(cost, cw_id, f"products[{product.get('id')}].cost"),
        "taxable": bool(product.get("taxableFlag", True)),
    }


def to_invoice_event(
    invoice: dict, products: list[dict], reading: Reading = SCHEDULED_NOW, extra_refs: dict | None = None
) -> dict:
    """The `cw_invoice_changed` event of a ConnectWise invoice or credit memo.

    `extra_refs` may carry `member_identifier` / `account_manager_identifier`
    looked up elsewhere (the invoice itself does not always name them).
    """
    cw_id = event_id(invoice, reading.trigger)
    company = ref(invoice, "company")
    if company.get("id") is None:
        raise RecordError(cw_id, "company.id", "missing")
    if not invoice.get("invoiceNumber"):
        raise RecordError(cw_id, "invoiceNumber", "missing")
    invoice_date = date_only(invoice.get("date"))
    if not invoice_date:
        raise RecordError(cw_id, "date", "missing")
    refs = extra_refs or {}
    total = money(invoice.get("total"), cw_id, "total")
    return {
        **upsert_frame(record_type_of(invoice), cw_id, invoice, reading, lambda: content_hash(invoice, products)),
        "invoice_number": str(invoice["invoiceNumber"]),
        "invoice_type": str(invoice.get("type") or "Standard"),
        "status": name_of(invoice.get("status")),
        "company_id": int(company["id"]),
        "company_identifier": str(company.get("identifier") or ""),
        "company_name": str(company.get("name") or ""),
        "date": invoice_date,
        "due_date": date_only(invoice.get("dueDate")),
        "location_id": ref_id(invoice, "locationId", "location"),
        "department_id": ref_id(invoice, "departmentId", "department"),
        "member_identifier": refs.get("member_identifier") or identifier_of(invoice, "member", "createdBy"),
        "account_manager_identifier": refs.get("account_manager_identifier")
        or identifier_of(invoice, "accountManager"),
        "currency": currency_code(invoice),
        "tax_code": name_of(invoice.get("taxCode")),
        "subtotal": money(invoice.get("subtotal"), cw_id, "subtotal"),
        "sales_tax": money(invoice.get("salesTax"), cw_id, "salesTax", Decimal(0)),
        "total": total,
        "balance": money(invoice.get("balance"), cw_id, "balance", total),
        "custom_fields": custom_fields(invoice),
        "lines": [to_line(p, cw_id) for p in sorted(products, key=lambda p: int(p["id"]))],
        "raw": dumps_cw_json(invoice),
    }


# What sync_records keeps of an emitted record, so its deletion can be routed later.
SNAPSHOT_FIELDS = (
    "invoice_number",
    "invoice_type",
    "status",
    "company_id",
    "company_identifier",
    "company_name",
    "date",
    "due_date",
    "location_id",
    "department_id",
    "member_identifier",
    "account_manager_identifier",
    "currency",
    "tax_code",
    "custom_fields",
)


def snapshot_of(event: dict) -> dict:
    return pick(event, SNAPSHOT_FIELDS)


def deleted_event(record_type: str, gone: Gone) -> dict:
    """A `cw_invoice_changed` with change DELETED for a record gone from
    ConnectWise, carrying the routing facts last seen (money zero, no lines)."""
    known = gone.known
    zero = Decimal(0).quantize(SCALE)
    return {
        **deleted_frame(record_type, gone, SNAPSHOT_FIELDS),
        "invoice_number": gone.number_from("invoice_number"),
        "invoice_type": str(
            known.get("invoice_type") or (CREDIT_MEMO if record_type == RecordKind.CREDIT_NOTE else "Standard")
        ),
        "company_id": int(known.get("company_id") or 0),
        "company_identifier": str(known.get("company_identifier") or ""),
        "company_name": str(known.get("company_name") or ""),
        "date": str(known.get("date") or ""),
        "subtotal": zero,
        "sales_tax": zero,
        "total": zero,
        "balance": zero,
        "lines": [],
    }
