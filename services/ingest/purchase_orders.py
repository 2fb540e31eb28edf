"""Pure conversion of a ConnectWise purchase order (with its line items) into a
`cw_purchase_order_changed` event, and its DELETED form. No I/O here."""

from __future__ import annotations

from decimal import Decimal

from ..common.record_kinds import RecordKind
from .event_frame import SCHEDULED_NOW, Gone, Reading, deleted_frame, pick, upsert_frame
from .poller import (
    SCALE,
    RecordError,
    event_id,
    content_hash,
    currency_code,
    custom_fields,
    date_only,
    dumps_cw_json,
    money,
    name_of,
    ref,
    ref_id,
)

PO_SNAPSHOT_FIELDS = (
    "po_number",
    "po_date",
    "status",
    "vendor_company_id",
    "vendor_company_identifier",
    "vendor_company_name",
    "vendor_invoice_number",
    "vendor_invoice_date",
    "location_id",
    "department_id",
    "currency",
    "tax_code",
    "custom_fields",
)


def to_po_line(item: dict, cw_id) -> dict:
    product = ref(item, "product")
    product_class = item.get("productClass") or product.get("productClass")
    if isinstance(product_class, dict):
        product_class = product_class.get("name")
    where = f"lineitems[{item.get('id', item.get('lineNumber'))}]"
    tax = item.get("tax")
    return {
        "line_number": int(item.get("lineNumber") or 0),
        "description": str(item.get("description") or product.get("identifier") or ""),
        "product": product.get("identifier"),
        "product_class": product_class,
        "quantity": money(item.get("quantity"), cw_id, f"{where}.quantity"),
        "unit_cost": money(item.get("unitCost"), cw_id, f"{where}.unitCost"),
        "tax": None if tax is None else money(tax, cw_id, f"{where}.tax"),
        "canceled": bool(item.get("canceledFlag", False)),
    }


def to_purchase_order_event(
    po: dict, line_items: list[dict], reading: Reading = SCHEDULED_NOW, extra_refs: dict | None = None
) -> dict:
    """`extra_refs` is taken for the shape every source's conversion has; a purchase order needs none."""
    cw_id = event_id(po, reading.trigger)
    vendor = ref(po, "vendorCompany")
    if vendor.get("id") is None:
        raise RecordError(cw_id, "vendorCompany.id", "missing")
    if not po.get("poNumber"):
        raise RecordError(cw_id, "poNumber", "missing")
    po_date = date_only(po.get("poDate"))
    if not po_date:
        raise RecordError(cw_id, "poDate", "missing")
    total = money(po.get("total"), cw_id, "total")
    return {
        **upsert_frame(RecordKind.PROCUREMENT.value, cw_id, po, reading, lambda: content_hash(po, line_items)),
        "po_number": str(po["poNumber"]),
        "po_date": po_date,
        "status": name_of(po.get("status")),
        "vendor_company_id": int(vendor["id"]),
        "vendor_company_identifier": str(vendor.get("identifier") or ""),
        "vendor_company_name": str(vendor.get("name") or ""),
        "vendor_invoice_number": po.get("vendorInvoiceNumber") or None,
        "vendor_invoice_date": date_only(po.get("vendorInvoiceDate")),
        "location_id": ref_id(po, "locationId", "location"),
        "department_id": ref_id(po, "businessUnitId", "department"),
        "currency": currency_code(po),
        "tax_code": name_of(po.get("taxCode")),
        "subtotal": money(po.get("subTotal", po.get("subtotal")), cw_id, "subTotal"),
        "sales_tax": money(po.get("salesTax"), cw_id, "salesTax", Decimal(0)),
        "freight_cost": money(po.get("freightCost"), cw_id, "freightCost", Decimal(0)),
        "total": total,
        "closed": bool(po.get("closedFlag", False)),
        "custom_fields": custom_fields(po),
        "lines": [
            to_po_line(item, cw_id)
            for item in sorted(line_items, key=lambda i: (int(i.get("lineNumber") or 0), int(i.get("id") or 0)))
        ],
        "raw": dumps_cw_json(po),
    }


def po_snapshot_of(event: dict) -> dict:
    return pick(event, PO_SNAPSHOT_FIELDS)


def deleted_po_event(gone: Gone) -> dict:
    known = gone.known
    zero = Decimal(0).quantize(SCALE)
    return {
        **deleted_frame(RecordKind.PROCUREMENT.value, gone, PO_SNAPSHOT_FIELDS),
        "po_number": gone.number_from("po_number"),
        "po_date": str(known.get("po_date") or ""),
        "vendor_company_id": int(known.get("vendor_company_id") or 0),
        "vendor_company_identifier": str(known.get("vendor_company_identifier") or ""),
        "vendor_company_name": str(known.get("vendor_company_name") or ""),
        "subtotal": zero,
        "sales_tax": zero,
        "freight_cost": zero,
        "total": zero,
        "closed": True,
        "lines": [],
    }
