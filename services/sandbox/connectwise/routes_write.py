"""Write routes and nested resources: invoices (POST, PUT, PATCH, DELETE),
invoice payments (payments, credit memos applied, refunds: see money.py),
purchase-order line items and callbacks."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import money, writes
from .errors import invalid
from .handlers import count_response, list_response, one_response, parse_id, read_body, respond
from .state import CwState


def write_routes(router: APIRouter, state: CwState) -> None:
    @router.post("/finance/invoices")
    async def create_invoice(request: Request) -> Response:
        body = await read_body(request)
        with state.lock:
            record = writes.build_invoice(state, body)
            return respond(state.put_invoice(record, "added"), 201)

    @router.put("/finance/invoices/{record_id}")
    async def replace_invoice(request: Request, record_id: str) -> Response:
        body = await read_body(request)
        with state.lock:
            existing = state.require("invoices", parse_id(record_id, "Invoice"), "Invoice")
            return respond(state.put_invoice(writes.build_invoice(state, body, existing), "updated"))

    @router.patch("/finance/invoices/{record_id}")
    async def patch_invoice(request: Request, record_id: str) -> Response:
        ops = await read_body(request)
        with state.lock:
            existing = state.require("invoices", parse_id(record_id, "Invoice"), "Invoice")
            merged = writes.apply_patch(existing, ops)
            return respond(state.put_invoice(writes.build_invoice(state, merged, existing), "updated"))

    @router.delete("/finance/invoices/{record_id}")
    async def delete_invoice(record_id: str) -> Response:
        state.delete_invoice(parse_id(record_id, "Invoice"))
        return Response(status_code=204)

    def invoice_parent(raw: str) -> tuple[tuple[str, ...], int]:
        invoice_id = parse_id(raw, "Invoice")
        state.require("invoices", invoice_id, "Invoice")
        return (("invoice", "id"), invoice_id)

    @router.get("/finance/invoices/{record_id}/payments")
    async def list_payments(request: Request, record_id: str) -> Response:
        return list_response(request, state, "payments", invoice_parent(record_id))

    @router.get("/finance/invoices/{record_id}/payments/count")
    async def count_payments(request: Request, record_id: str) -> Response:
        return count_response(request, state, "payments", invoice_parent(record_id))

    @router.get("/finance/invoices/{record_id}/payments/{payment_id}")
    async def one_payment(request: Request, record_id: str, payment_id: str) -> Response:
        return one_response(request, state, "payments", payment_id, "InvoicePayment", invoice_parent(record_id))

    @router.post("/finance/invoices/{record_id}/payments")
    async def add_payment(request: Request, record_id: str) -> Response:
        body = await read_body(request)
        invoice_id = invoice_parent(record_id)[1]
        if not isinstance(body, dict):
            raise invalid("InvoicePayment", "amount", "the request body must be a JSON object")
        if body.get("amount") is None:
            raise invalid("InvoicePayment", "amount", "amount is required", "MissingRequiredField")
        amount = writes.parse_money(body["amount"], "amount", "InvoicePayment")
        when = (
            writes.parse_when(body["paymentDate"], "paymentDate", "InvoicePayment")
            if body.get("paymentDate")
            else state.now().replace(hour=0, minute=0, second=0)
        )
        payment = state.add_payment(
            invoice_id, amount, when, body.get("type"), str(body.get("appliedBy") or "cwapi"), money.credit_id_of(body)
        )
        return respond(payment, 201)

    @router.delete("/finance/invoices/{record_id}/payments/{payment_id}")
    async def delete_payment(record_id: str, payment_id: str) -> Response:
        state.delete_payment(invoice_parent(record_id)[1], parse_id(payment_id, "InvoicePayment"))
        return Response(status_code=204)

    @router.post("/procurement/products")
    async def add_product(request: Request) -> Response:
        body = await read_body(request)
        invoice_id, item, quantity, price = writes.product_fields(state, body)
        product = state.add_product(invoice_id, item, quantity, price, body.get("description"))
        return respond(product, 201)

    @router.patch("/procurement/products/{record_id}")
    async def patch_product(request: Request, record_id: str) -> Response:
        ops = await read_body(request)
        with state.lock:
            product = state.require("products", parse_id(record_id, "ProductItem"), "ProductItem")
            changes = writes.product_patch(product, ops)
            return respond(state.update_product(product["id"], **changes))

    @router.delete("/procurement/products/{record_id}")
    async def delete_product(record_id: str) -> Response:
        state.delete_product(parse_id(record_id, "ProductItem"))
        return Response(status_code=204)

    def po_parent(raw: str) -> tuple[tuple[str, ...], int]:
        po_id = parse_id(raw, "PurchaseOrder")
        state.require("purchaseorders", po_id, "PurchaseOrder")
        return (("purchaseOrderId",), po_id)

    @router.get("/procurement/purchaseorders/{record_id}/lineitems")
    async def list_lines(request: Request, record_id: str) -> Response:
        return list_response(request, state, "lineitems", po_parent(record_id))

    @router.get("/procurement/purchaseorders/{record_id}/lineitems/count")
    async def count_lines(request: Request, record_id: str) -> Response:
        return count_response(request, state, "lineitems", po_parent(record_id))

    @router.get("/procurement/purchaseorders/{record_id}/lineitems/{line_id}")
    async def one_line(request: Request, record_id: str, line_id: str) -> Response:
        return one_response(request, state, "lineitems", line_id, "PurchaseOrderLineItem", po_parent(record_id))

    @router.post("/system/callbacks")
    async def add_callback(request: Request) -> Response:
        return respond(state.add_callback(writes.build_callback(await read_body(request))), 201)

    @router.delete("/system/callbacks/{record_id}")
    async def delete_callback(record_id: str) -> Response:
        state.delete_callback(parse_id(record_id, "Callback"))
        return Response(status_code=204)
