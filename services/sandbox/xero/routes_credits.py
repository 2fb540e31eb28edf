"""Prepayments, overpayment and prepayment allocations (Xero's API), and control
routes that make money arrive as a customer or a bookkeeper would: an invoice
overpaid, a prepayment received, a payment moved to another invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from . import credits
from .allocations import allocation_errors, put_allocations
from .api_support import Api, json_response, not_found
from .control import body
from .payments import render_payment
from .payments_mutator import PaymentsMutator
from .serialize import with_date_strings


def render_prepayment(record: dict) -> dict:
    return {**with_date_strings(record), "ID": record["PrepaymentID"]}


def add_credit_routes(api: APIRouter, h: Api) -> None:
    state, org, envelope = h.state, h.org, h.envelope

    @api.get("/Prepayments")
    async def list_prepayments(request: Request) -> Response:
        return h.listing(
            request, "Prepayments", h.snapshot(org(request).prepayments), "UpdatedDateUTC", show=render_prepayment
        )

    @api.get("/Prepayments/{ref}")
    async def get_prepayment(request: Request, ref: str) -> Response:
        record = org(request).prepayments.get(ref.lower())
        return json_response(envelope("Prepayments", [render_prepayment(record)])) if record else not_found()

    def allocation_routes(kind: str) -> None:
        plural = credits.KINDS[kind][1]

        @api.put(f"/{plural}/{{ref}}/Allocations", name=f"create{kind.capitalize()}Allocations")
        async def allocate(request: Request, ref: str) -> Response:
            return await put_allocations(
                h,
                request,
                lambda org: getattr(org, plural.lower()).get(ref.lower()),
                lambda org, credit, raw: allocation_errors(org, credit, raw, kind=kind, pays="ACCREC"),
                lambda org, credit, parts: credits.allocate(state, org, kind, credit, parts),
            )

    allocation_routes("overpayment")
    allocation_routes("prepayment")


def credit_control_router(runtime: Any) -> APIRouter:
    """/_sandbox/xero/...: no auth, never hit by injected faults; organisations by short name."""
    api = APIRouter(prefix="/_sandbox/xero")
    state = runtime.state

    def find(data: dict):
        by_short = {o.short: o for o in state.organisations.values()}
        org = by_short.get(str(data.get("organisation") or ""))
        if org is None:
            raise ValueError(f"organisation: one of {', '.join(sorted(by_short))}")
        return org

    def invoice_of(org, number: Any) -> dict:
        invoice = org.invoice_by_number(str(number or ""))
        if invoice is None:
            raise ValueError(f"invoice_number: {org.short} has no sales invoice {number!r}")
        return invoice

    async def run(request: Request, action) -> JSONResponse:
        try:
            data = await body(request)
            with state.lock:
                return JSONResponse(action(data))
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @api.post("/overpay")
    async def overpay(request: Request) -> JSONResponse:
        """{"organisation", "invoice_number", "amount"}: the invoice's amount due paid, the rest an overpayment."""

        def act(data: dict) -> dict:
            org = find(data)
            mutator = PaymentsMutator(state)
            done = mutator.pay(
                org, invoice_of(org, data.get("invoice_number")), "over", Decimal(str(data["amount"])), None
            )
            if done is None:
                raise ValueError("invoice_number: nothing is due on that invoice")
            return done

        return await run(request, act)

    @api.post("/prepay")
    async def prepay(request: Request) -> JSONResponse:
        """{"organisation", "contact_id", "amount", "reference"}: a prepayment received."""

        def act(data: dict) -> dict:
            org = find(data)
            record = credits.record_prepayment(
                state,
                org,
                str(data["contact_id"]),
                Decimal(str(data["amount"])),
                None,
                str(data.get("reference") or ""),
            )
            return {"prepaymentId": record["PrepaymentID"]}

        return await run(request, act)

    @api.post("/payments/{payment_id}/move")
    async def move(request: Request, payment_id: str) -> JSONResponse:
        """{"organisation", "invoice_number"}: the payment pays that invoice instead (same PaymentID)."""

        def act(data: dict) -> dict:
            org = find(data)
            payment = org.payments.get(payment_id.lower())
            if payment is None:
                raise ValueError(f"payment_id: {org.short} has no payment {payment_id}")
            moved = credits.move_payment(state, org, payment, invoice_of(org, data.get("invoice_number")))
            return {
                "paymentId": moved["PaymentID"],
                "invoiceNumber": render_payment(org, moved)["Invoice"]["InvoiceNumber"],
            }

        return await run(request, act)

    return api
