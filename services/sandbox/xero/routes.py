"""The /api.xro/2.0 endpoints for invoices, credit notes, contacts and the
organisation's settings. Authentication, tenant and rate limits are checked
before these run (app.py); writes pass through the Idempotency-Key store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from . import query
from .api_support import BASE, Api, json_response, not_found
from .books import add_books_routes, organisation_element
from .contacts import save_contacts
from .documents import CREDIT_NOTE, INVOICE, Kind, render, save_batch
from .routes_credits import add_credit_routes
from .routes_money import add_money_routes

__all__ = ["BASE", "router"]


def router(runtime: Any) -> APIRouter:
    state = runtime.state
    api = APIRouter(prefix=BASE)
    h = Api(runtime)
    org, envelope, listing, csv, write = h.org, h.envelope, h.listing, h.csv, h.write
    summarize, batch_result, elements_of = h.summarize, h.batch_result, h.elements_of

    # Invoices and credit notes share everything but names.
    def documents(kind: Kind, filters: dict[str, str]) -> None:
        path = f"/{kind.plural}"

        @api.get(path, name=f"list{kind.plural}")
        async def list_documents(request: Request) -> Response:
            the_org = org(request)
            records = h.snapshot(getattr(the_org, kind.collection))
            for param, field in filters.items():
                wanted = csv(request, param)
                if wanted is not None:
                    records = [r for r in records if str(query.field_value(r, field) or "").lower() in wanted]
            return listing(
                request, kind.plural, records, "UpdatedDateUTC", show=lambda record: render(the_org, kind, record)
            )

        @api.get(path + "/{ref}", name=f"get{kind.plural}")
        async def get_document(request: Request, ref: str) -> Response:
            the_org = org(request)
            record = getattr(the_org, kind.collection).get(ref.lower())
            if record is None and kind is INVOICE:
                record = the_org.invoice_by_number(ref)
            return json_response(envelope(kind.plural, [render(the_org, kind, record)])) if record else not_found()

        async def save(request: Request, method: str, target: str | None = None) -> Response:
            def act(payload: Any) -> tuple[int, Any]:
                status, out, _ = save_batch(
                    state,
                    org(request),
                    kind,
                    elements_of(payload, kind.plural),
                    method=method,
                    summarize=summarize(request),
                    target_id=target,
                )
                return batch_result(kind.plural, status, out)

            return await write(request, act)

        @api.put(path, name=f"create{kind.plural}")
        async def put_documents(request: Request) -> Response:
            return await save(request, "PUT")

        @api.post(path, name=f"update{kind.plural}")
        async def post_documents(request: Request) -> Response:
            return await save(request, "POST")

        @api.post(path + "/{ref}", name=f"update{kind.plural}One")
        async def post_document(request: Request, ref: str) -> Response:
            return await save(request, "POST", ref)

    documents(
        INVOICE,
        {
            "IDs": "InvoiceID",
            "InvoiceNumbers": "InvoiceNumber",
            "ContactIDs": "Contact.ContactID",
            "Statuses": "Status",
        },
    )
    documents(CREDIT_NOTE, {"IDs": "CreditNoteID", "ContactIDs": "Contact.ContactID", "Statuses": "Status"})

    add_money_routes(api, h)
    add_credit_routes(api, h)

    @api.get("/Contacts")
    async def list_contacts(request: Request) -> Response:
        records = h.snapshot(org(request).contacts)
        wanted = csv(request, "IDs")
        if wanted is not None:
            records = [c for c in records if c["ContactID"] in wanted]
        if request.query_params.get("includeArchived", "false").lower() != "true":
            records = [c for c in records if c["ContactStatus"] != "ARCHIVED"]
        term = request.query_params.get("searchTerm", "").lower()
        if term:
            records = [
                c
                for c in records
                if any(
                    term in str(c.get(k) or "").lower()
                    for k in ("Name", "EmailAddress", "ContactNumber", "AccountNumber")
                )
            ]
        return listing(request, "Contacts", records, "Name")

    @api.get("/Contacts/{ref}")
    async def get_contact(request: Request, ref: str) -> Response:
        the_org = org(request)
        record = the_org.contacts.get(ref.lower()) or the_org.find_contact({"ContactNumber": ref})
        return json_response(envelope("Contacts", [record])) if record else not_found()

    async def save_contact(request: Request, method: str, target: str | None = None) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            status, out, _ = save_contacts(
                state,
                org(request),
                elements_of(payload, "Contacts"),
                method=method,
                summarize=summarize(request),
                target_id=target,
            )
            return batch_result("Contacts", status, out)

        return await write(request, act)

    @api.put("/Contacts")
    async def put_contacts(request: Request) -> Response:
        return await save_contact(request, "PUT")

    @api.post("/Contacts")
    async def post_contacts(request: Request) -> Response:
        return await save_contact(request, "POST")

    @api.post("/Contacts/{ref}")
    async def post_contact(request: Request, ref: str) -> Response:
        return await save_contact(request, "POST", ref)

    @api.get("/Accounts")
    async def list_accounts(request: Request) -> Response:
        return listing(request, "Accounts", h.snapshot(org(request).accounts), "Code", pageable=False)

    @api.get("/Accounts/{ref}")
    async def get_account(request: Request, ref: str) -> Response:
        record = org(request).account_by_id(ref.lower())
        return json_response(envelope("Accounts", [record])) if record else not_found()

    @api.get("/TaxRates")
    async def list_tax_rates(request: Request) -> Response:
        records = h.snapshot(org(request).tax_rates)
        if request.query_params.get("TaxType"):
            records = [r for r in records if r["TaxType"] == request.query_params["TaxType"]]
        return listing(request, "TaxRates", records, "Name", pageable=False)

    @api.get("/TrackingCategories")
    async def list_tracking(request: Request) -> Response:
        records = [
            c
            for c in org(request).tracking
            if c["Status"] == "ACTIVE" or request.query_params.get("includeArchived", "false").lower() == "true"
        ]
        return listing(request, "TrackingCategories", records, "Name", pageable=False)

    @api.get("/TrackingCategories/{ref}")
    async def get_tracking(request: Request, ref: str) -> Response:
        record = next((c for c in org(request).tracking if c["TrackingCategoryID"] == ref.lower()), None)
        return json_response(envelope("TrackingCategories", [record])) if record else not_found()

    @api.get("/Organisation")
    async def organisation(request: Request) -> Response:
        return json_response(envelope("Organisations", [organisation_element(org(request))]))

    add_books_routes(api, h)

    return api
