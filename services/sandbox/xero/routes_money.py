"""Payments, credit-note allocations and overpayments routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from . import payments as pay
from .allocations import allocation_errors, put_allocations
from .api_support import NOT_FOUND_BODY, Api, json_response, not_found
from .validation import VALIDATION_EXCEPTION


def add_money_routes(api: APIRouter, h: Api) -> None:
    state = h.state
    org, envelope, listing, write = h.org, h.envelope, h.listing, h.write
    summarize, batch_result, elements_of = h.summarize, h.batch_result, h.elements_of

    @api.put("/CreditNotes/{ref}/Allocations")
    async def allocate(request: Request, ref: str) -> Response:
        return await put_allocations(
            h,
            request,
            lambda org: org.credit_notes.get(ref.lower()),
            lambda org, credit, raw: allocation_errors(org, credit, raw, kind="credit note"),
            lambda org, credit, parts: pay.apply_allocation(state, org, credit, parts),
        )

    @api.delete("/CreditNotes/{ref}/Allocations/{allocation_ref}")
    async def delete_allocation(request: Request, ref: str, allocation_ref: str) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            the_org = org(request)
            with state.lock:
                credit = the_org.credit_notes.get(ref.lower())
                allocation = next(
                    (
                        a
                        for a in (credit or {}).get("Allocations", [])
                        if a["AllocationID"] == allocation_ref.lower() and not a["IsDeleted"]
                    ),
                    None,
                )
                if allocation is None:
                    return 404, NOT_FOUND_BODY
                return 200, envelope("Allocations", [pay.delete_allocation(state, the_org, credit, allocation)])

        return await write(request, act)

    @api.get("/Payments")
    async def list_payments(request: Request) -> Response:
        the_org = org(request)
        return listing(
            request,
            "Payments",
            h.snapshot(the_org.payments),
            "UpdatedDateUTC",
            show=lambda payment: pay.render_payment(the_org, payment),
        )

    @api.get("/Payments/{ref}")
    async def get_payment(request: Request, ref: str) -> Response:
        the_org = org(request)
        record = the_org.payments.get(ref.lower())
        return json_response(envelope("Payments", [pay.render_payment(the_org, record)])) if record else not_found()

    async def create_payments(request: Request) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            the_org = org(request)
            with state.lock:
                checked = [pay.payment_errors(the_org, raw) for raw in elements_of(payload, "Payments")]
                failed = any(errors for errors, _ in checked)
                out = []
                for raw, (errors, parts) in zip(elements_of(payload, "Payments"), checked, strict=True):
                    if errors or (failed and summarize(request)):
                        shown = (
                            {k: raw.get(k) for k in ("Invoice", "CreditNote", "Account", "Amount", "Reference")}
                            if isinstance(raw, dict)
                            else {}
                        )
                        out.append(
                            {
                                **shown,
                                "StatusAttributeString": "ERROR" if errors else "OK",
                                "ValidationErrors": [{"Message": m} for m in errors],
                            }
                        )
                    else:
                        record = pay.render_payment(the_org, pay.apply_payment(state, the_org, parts))
                        if not summarize(request):
                            record.update(StatusAttributeString="OK", ValidationErrors=[])
                        out.append(record)
                return batch_result("Payments", 400 if failed and summarize(request) else 200, out)

        return await write(request, act)

    api.add_api_route("/Payments", create_payments, methods=["PUT"], name="createPayments")
    api.add_api_route("/Payments", create_payments, methods=["POST"], name="createPayment")

    @api.post("/Payments/{ref}")
    async def delete_payment(request: Request, ref: str) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            the_org = org(request)
            with state.lock:
                record = the_org.payments.get(ref.lower())
                if record is None:
                    return 404, NOT_FOUND_BODY
                wanted = (elements_of(payload, "Payments") or [{}])[0].get("Status")
                if wanted != "DELETED" or record["Status"] == "DELETED" or record["_doc"][0] == "overpayment":
                    message = "Payments can only be deleted, by setting Status to DELETED."
                    return 400, {
                        **VALIDATION_EXCEPTION,
                        "Elements": [
                            {**pay.render_payment(the_org, record), "ValidationErrors": [{"Message": message}]}
                        ],
                    }
                pay.delete_payment(state, the_org, record)
                return 200, envelope("Payments", [pay.render_payment(the_org, record)])

        return await write(request, act)

    @api.get("/Overpayments")
    async def list_overpayments(request: Request) -> Response:
        return listing(
            request,
            "Overpayments",
            h.snapshot(org(request).overpayments),
            "UpdatedDateUTC",
            show=pay.render_overpayment,
        )

    @api.get("/Overpayments/{ref}")
    async def get_overpayment(request: Request, ref: str) -> Response:
        record = org(request).overpayments.get(ref.lower())
        return json_response(envelope("Overpayments", [pay.render_overpayment(record)])) if record else not_found()
