"""Purchase orders and their line items: create, edit and delete through the
state's lock, with totals derived from the lines (subTotal, salesTax, total),
`_info.lastUpdated` bumped and a PurchaseOrder callback on every change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..seed_model import money
from . import records as r
from .errors import CwError, invalid, missing
from .state import CwState
from .store import Record
from .writes import parse_money, parse_when

ZERO = Decimal("0.00")


def _recompute(state: CwState, po_id: int) -> Record:
    po = dict(state.c["purchaseorders"].by_id[po_id])
    rate = state.tax_rates.get(po["taxCode"]["id"], ZERO)
    lines = [state.c["lineitems"].by_id[i] for i in state.lines_of.get(po_id, [])]
    subtotal = money(sum((money(line["quantity"] * line["unitCost"]) for line in lines), ZERO))
    tax = money(sum((line["tax"] for line in lines), ZERO) + po["freightCost"] * rate / 100)
    po.update(
        subTotal=subtotal,
        salesTax=tax,
        total=subtotal + po["freightCost"] + tax,
        _info={**po["_info"], "lastUpdated": state.now()},
    )
    state.c["purchaseorders"].put(po)
    return po


def _line(
    state: CwState,
    po: Record,
    line_id: int,
    number: int,
    item: Any,
    quantity: Decimal,
    unit_cost: Decimal,
    description: str | None,
) -> Record:
    ext = money(quantity * unit_cost)
    rate = state.tax_rates.get(po["taxCode"]["id"], ZERO)
    return {
        "id": line_id,
        "purchaseOrderId": po["id"],
        "lineNumber": number,
        "product": {"id": item.id, "identifier": item.identifier},
        "description": description or item.description,
        "quantity": quantity,
        "unitCost": unit_cost,
        "tax": money(ext * rate / 100),
        "receivedQuantity": Decimal(0),
        "receivedStatus": "Waiting",
        "closedFlag": False,
        "canceledFlag": False,
        "_info": r.info(state.now()),
    }


def create_purchase_order(state: CwState, body: Any) -> Record:
    if not isinstance(body, dict):
        raise CwError(400, "InvalidObject", "the request body must be a JSON object")
    vendor_ref = body.get("vendorCompany")
    if not isinstance(vendor_ref, dict) or vendor_ref.get("id") is None:
        raise missing("PurchaseOrder", "vendorCompany")
    with state.lock:
        vendor = state.c["companies"].get(vendor_ref["id"])
        if vendor is None:
            raise invalid("PurchaseOrder", "vendorCompany", f"company {vendor_ref['id']} does not exist")
        location_id = body.get("locationId", 2)
        if state.c["locations"].get(location_id) is None:
            raise invalid("PurchaseOrder", "locationId", f"location {location_id} does not exist")
        po_date = (
            parse_when(body["poDate"], "poDate", "PurchaseOrder")
            if body.get("poDate")
            else state.now().replace(hour=0, minute=0, second=0)
        )
        po_id = state.new_id("purchaseorders")
        record = {
            "id": po_id,
            "poNumber": body.get("poNumber") or f"PO-{4500 + po_id}",
            "poDate": po_date,
            "vendorCompany": r.company_ref(vendor),
            "vendorInvoiceNumber": body.get("vendorInvoiceNumber"),
            "vendorInvoiceDate": parse_when(body["vendorInvoiceDate"], "vendorInvoiceDate", "PurchaseOrder")
            if body.get("vendorInvoiceDate")
            else None,
            "status": {"id": r.PO_STATUSES["Open"], "name": "Open"},
            "terms": {"id": 3, "name": "Net 30"},
            "locationId": location_id,
            "businessUnitId": body.get("businessUnitId", 1),
            "subTotal": ZERO,
            "salesTax": ZERO,
            "freightCost": parse_money(body.get("freightCost", 0), "freightCost", "PurchaseOrder"),
            "total": ZERO,
            "closedFlag": False,
            "taxCode": {"id": 1, "name": "GST"},
            "currency": dict(r.CURRENCY),
            "customFields": [],
            "_info": r.info(state.now()),
        }
        state.c["purchaseorders"].put(record)
        state.lines_of[po_id] = []
        po = _recompute(state, po_id)
        state.notify("PurchaseOrder", "added", po)
        return po


def set_status(state: CwState, po_id: int, status: str) -> Record:
    if status not in r.PO_STATUSES:
        raise invalid("PurchaseOrder", "status", f"status must be one of {', '.join(r.PO_STATUSES)}")
    with state.lock:
        po = dict(state.require("purchaseorders", po_id, "PurchaseOrder"))
        po.update(status={"id": r.PO_STATUSES[status], "name": status}, closedFlag=status == "Closed")
        state.c["purchaseorders"].put(po)
        po = _recompute(state, po_id)
        state.notify("PurchaseOrder", "updated", po)
        return po


def delete_purchase_order(state: CwState, po_id: int) -> None:
    with state.lock:
        po = state.require("purchaseorders", po_id, "PurchaseOrder")
        for line_id in state.lines_of.pop(po_id, []):
            state.c["lineitems"].remove(line_id)
        state.c["purchaseorders"].remove(po_id)
        state.notify("PurchaseOrder", "deleted", po)


def add_line(
    state: CwState,
    po_id: int,
    item: Any,
    quantity: Decimal,
    unit_cost: Decimal | None = None,
    description: str | None = None,
) -> Record:
    with state.lock:
        po = state.require("purchaseorders", po_id, "PurchaseOrder")
        number = len(state.lines_of.get(po_id, [])) + 1
        line = _line(
            state,
            po,
            state.new_id("lineitems"),
            number,
            item,
            quantity,
            item.cost if unit_cost is None else unit_cost,
            description,
        )
        state.c["lineitems"].put(line)
        state.lines_of.setdefault(po_id, []).append(line["id"])
        state.notify("PurchaseOrder", "updated", _recompute(state, po_id))
        return line


def update_line(
    state: CwState, line_id: int, quantity: Decimal | None = None, unit_cost: Decimal | None = None
) -> Record:
    with state.lock:
        line = dict(state.require("lineitems", line_id, "PurchaseOrderLineItem"))
        po = state.c["purchaseorders"].by_id[line["purchaseOrderId"]]
        line["quantity"] = line["quantity"] if quantity is None else quantity
        line["unitCost"] = line["unitCost"] if unit_cost is None else unit_cost
        rate = state.tax_rates.get(po["taxCode"]["id"], ZERO)
        line["tax"] = money(money(line["quantity"] * line["unitCost"]) * rate / 100)
        line["_info"] = {**line["_info"], "lastUpdated": state.now()}
        state.c["lineitems"].put(line)
        state.notify("PurchaseOrder", "updated", _recompute(state, po["id"]))
        return line


def patch_purchase_order(state: CwState, po_id: int, ops: Any) -> Record:
    """JSON Patch on a purchase order: status (by name or id), vendorInvoiceNumber,
    vendorInvoiceDate, freightCost."""
    if not isinstance(ops, list) or not ops:
        raise CwError(400, "InvalidObject", "PATCH body must be a non-empty list of operations")
    with state.lock:
        po = dict(state.require("purchaseorders", po_id, "PurchaseOrder"))
        status = None
        for op in ops:
            path = str(op.get("path", "")).strip("/") if isinstance(op, dict) else ""
            value = op.get("value") if isinstance(op, dict) else None
            if not isinstance(op, dict) or op.get("op") != "replace":
                raise invalid("PurchaseOrder", path or "op", "only replace operations are supported")
            if path in ("status/name", "status/id", "status"):
                names = {v: k for k, v in r.PO_STATUSES.items()}
                if path == "status/id":
                    status = names.get(value) if isinstance(value, int) else None
                    if status is None:
                        raise invalid("PurchaseOrder", path, f"{value!r} is not the id of a purchase order status")
                else:
                    named = value.get("name") if isinstance(value, dict) else value
                    if not isinstance(named, str):
                        raise invalid("PurchaseOrder", path, f"{named!r} is not the name of a purchase order status")
                    status = named
            elif path == "vendorInvoiceNumber":
                po[path] = str(value)
            elif path == "vendorInvoiceDate":
                po[path] = parse_when(value, path, "PurchaseOrder")
            elif path == "freightCost":
                po[path] = parse_money(value, path, "PurchaseOrder")
            else:
                raise invalid("PurchaseOrder", path, f"{path} cannot be patched here")
        state.c["purchaseorders"].put(po)
        if status is not None:
            return set_status(state, po_id, status)
        po = _recompute(state, po_id)
        state.notify("PurchaseOrder", "updated", po)
        return po
