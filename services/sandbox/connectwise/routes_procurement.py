"""Write routes of purchase orders and their line items."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import procurement as p
from .errors import CwError, invalid
from .handlers import parse_id, read_body, respond
from .state import CwState
from .writes import parse_money, quantity_of

BASE = "/procurement/purchaseorders"


def procurement_routes(router: APIRouter, state: CwState) -> None:
    @router.post(BASE)
    async def create(request: Request) -> Response:
        return respond(p.create_purchase_order(state, await read_body(request)), 201)

    @router.patch(f"{BASE}/{{record_id}}")
    async def patch(request: Request, record_id: str) -> Response:
        ops = await read_body(request)
        return respond(p.patch_purchase_order(state, parse_id(record_id, "PurchaseOrder"), ops))

    @router.delete(f"{BASE}/{{record_id}}")
    async def delete(record_id: str) -> Response:
        p.delete_purchase_order(state, parse_id(record_id, "PurchaseOrder"))
        return Response(status_code=204)

    @router.post(f"{BASE}/{{record_id}}/lineitems")
    async def add_line(request: Request, record_id: str) -> Response:
        body = await read_body(request)
        if not isinstance(body, dict):
            raise CwError(400, "InvalidObject", "the request body must be a JSON object")
        product = body.get("product")
        product_id = product.get("id") if isinstance(product, dict) else None
        item = state.catalog.get(product_id) if isinstance(product_id, int) else None
        if item is None:
            raise invalid("PurchaseOrderLineItem", "product", "product must reference a catalog item by id")
        cost = (
            parse_money(body["unitCost"], "unitCost", "PurchaseOrderLineItem")
            if body.get("unitCost") is not None
            else None
        )
        line = p.add_line(
            state,
            parse_id(record_id, "PurchaseOrder"),
            item,
            quantity_of(body.get("quantity"), "PurchaseOrderLineItem"),
            cost,
            body.get("description"),
        )
        return respond(line, 201)

    @router.patch(f"{BASE}/{{record_id}}/lineitems/{{line_id}}")
    async def patch_line(request: Request, record_id: str, line_id: str) -> Response:
        ops = await read_body(request)
        if not isinstance(ops, list) or not ops:
            raise CwError(400, "InvalidObject", "PATCH body must be a non-empty list of operations")
        changes = {}
        for op in ops:
            path = str(op.get("path", "")).strip("/") if isinstance(op, dict) else ""
            if not isinstance(op, dict) or op.get("op") != "replace" or path not in ("quantity", "unitCost"):
                raise invalid(
                    "PurchaseOrderLineItem", path or "path", "only replace of quantity or unitCost is supported"
                )
            changes["quantity" if path == "quantity" else "unit_cost"] = (
                quantity_of(op.get("value"), "PurchaseOrderLineItem")
                if path == "quantity"
                else parse_money(op.get("value"), "unitCost", "PurchaseOrderLineItem")
            )
        with state.lock:
            line = state.require("lineitems", parse_id(line_id, "PurchaseOrderLineItem"), "PurchaseOrderLineItem")
            if line["purchaseOrderId"] != parse_id(record_id, "PurchaseOrder"):
                raise CwError(404, "NotFound", f"PurchaseOrderLineItem with id {line_id} not found")
            return respond(p.update_line(state, line["id"], **changes))
