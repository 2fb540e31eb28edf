"""The /api.xro/2.0 endpoints. Authentication, tenant and rate limits are
checked before these run (app.py); writes pass through the Idempotency-Key
store here."""
from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from fastapi import APIRouter, Request, Response

from . import payments as pay
from . import query
from .contacts import save_contacts
from .documents import CREDIT_NOTE, INVOICE, Kind, render, save_batch
from .idempotency import MAX_KEY_LENGTH
from .serialize import dumps, parse_http_date
from .validation import VALIDATION_EXCEPTION

BASE = "/api.xro/2.0"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def error(status: int, number: int, type_: str, message: str) -> Response:
    return json_response({"ErrorNumber": number, "Type": type_, "Message": message}, status)


def not_found() -> Response:
    return error(404, 404, "NotFoundException", "The resource you're looking for cannot be found")


def _needs_rendering(text: str) -> bool:
    """Stored documents keep only Contact.ContactID (and payments no Invoice):
    filters on other nested fields need the rendered record."""
    text = text.replace("Contact.ContactID", "")
    return "Contact." in text or "Invoice." in text or "CreditNote." in text


def router(runtime: Any) -> APIRouter:
    state = runtime.state
    api = APIRouter(prefix=BASE)

    def org(request: Request):
        return state.organisations[request.state.tenant]

    def envelope(key: str, items: list, pagination: dict | None = None) -> dict:
        body: dict[str, Any] = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "Connect Zero Sandbox",
                                "DateTimeUTC": state.clock.now()}
        if pagination is not None:
            body["pagination"] = pagination
        body[key] = items
        return body

    def listing(request: Request, key: str, records: list[dict], default_order: str,
                pageable: bool = True, show: Callable[[dict], dict] | None = None) -> Response:
        """Filter, order and page `records`; `show` renders the records of the
        page (every record first when the filter needs rendered fields)."""
        where_text = request.query_params.get("where", "") + request.query_params.get("order", "")
        if show is not None and _needs_rendering(where_text):
            records, show = [show(r) for r in records], None
        params = request.query_params
        try:
            since = request.headers.get("if-modified-since")
            records = query.modified_since(records, parse_http_date(since) if since else None)
            if params.get("where"):
                test = query.where(params["where"])
                records = [r for r in records if test(r)]
            records = query.order(list(records), params.get("order"), default_order)
            number = int(params["page"]) if pageable and params.get("page") else None
            size = int(params["pageSize"]) if params.get("pageSize") else None
        except (ValueError, TypeError) as exc:
            return error(400, 16, "QueryParseException", str(exc))
        items, pagination = query.page(records, number, size)
        if show is not None:
            items = [show(r) for r in items]
        return json_response(envelope(key, items, pagination))

    def csv(request: Request, name: str) -> set[str] | None:
        raw = request.query_params.get(name)
        return {part.strip().lower() for part in raw.split(",") if part.strip()} if raw else None

    async def write(request: Request, action: Callable[[Any], tuple[int, Any]]) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key")
        tenant = request.state.tenant
        if key is not None and len(key) > MAX_KEY_LENGTH:
            return error(400, 10, "ValidationException", "Idempotency-Key must be 128 characters or fewer.")
        fingerprint = runtime.idempotency.fingerprint(request.method, str(request.url), body)
        if key:
            remembered = runtime.idempotency.lookup(tenant, key, fingerprint)
            if remembered is not None:
                return Response(remembered.body, status_code=remembered.status, media_type="application/json")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return error(400, 14, "PostDataInvalidException", "The JSON body could not be parsed.")
        status, result = action(payload)
        response = json_response(result, status)
        if key:
            runtime.idempotency.remember(tenant, key, fingerprint, status, response.body)
        return response

    def summarize(request: Request) -> bool:
        return request.query_params.get("summarizeErrors", "true").lower() != "false"

    def batch_result(key: str, status: int, elements: list) -> tuple[int, dict]:
        if status == 400:
            return 400, {**VALIDATION_EXCEPTION, "Elements": elements}
        return 200, envelope(key, elements)

    def elements_of(payload: Any, key: str) -> list:
        if isinstance(payload, dict) and isinstance(payload.get(key), list):
            return payload[key]
        return [payload] if isinstance(payload, dict) and payload and key not in payload else []

    # Invoices and credit notes share everything but names.
    def documents(kind: Kind, filters: dict[str, str]) -> None:
        path = f"/{kind.plural}"

        @api.get(path, name=f"list{kind.plural}")
        async def list_documents(request: Request) -> Response:
            the_org = org(request)
            records = list(getattr(the_org, kind.collection).values())
            for param, field in filters.items():
                wanted = csv(request, param)
                if wanted is not None:
                    records = [r for r in records if str(query.field_value(r, field) or "").lower() in wanted]
            return listing(request, kind.plural, records, "UpdatedDateUTC",
                           show=lambda record: render(the_org, kind, record))

        @api.get(path + "/{ref}", name=f"get{kind.plural}")
        async def get_document(request: Request, ref: str) -> Response:
            the_org = org(request)
            record = getattr(the_org, kind.collection).get(ref.lower())
            if record is None and kind is INVOICE:
                record = the_org.invoice_by_number(ref)
            return json_response(envelope(kind.plural, [render(the_org, kind, record)])) if record else not_found()

        async def save(request: Request, method: str, target: str | None = None) -> Response:
            def act(payload: Any) -> tuple[int, Any]:
                status, out, _ = save_batch(state, org(request), kind, elements_of(payload, kind.plural),
                                            method=method, summarize=summarize(request), target_id=target)
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

    documents(INVOICE, {"IDs": "InvoiceID", "InvoiceNumbers": "InvoiceNumber",
                        "ContactIDs": "Contact.ContactID", "Statuses": "Status"})
    documents(CREDIT_NOTE, {"IDs": "CreditNoteID", "ContactIDs": "Contact.ContactID", "Statuses": "Status"})

    @api.put("/CreditNotes/{ref}/Allocations")
    async def allocate(request: Request, ref: str) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            the_org = org(request)
            with state.lock:
                credit = the_org.credit_notes.get(ref.lower())
                if credit is None:
                    return 404, {"ErrorNumber": 404, "Type": "NotFoundException",
                                 "Message": "The resource you're looking for cannot be found"}
                out, failed = [], False
                for raw in elements_of(payload, "Allocations"):
                    errors, parts = pay.allocation_errors(the_org, credit, raw)
                    if errors:
                        failed = True
                        out.append({**(raw if isinstance(raw, dict) else {}), "StatusAttributeString": "ERROR",
                                    "ValidationErrors": [{"Message": m} for m in errors]})
                    else:
                        out.append(pay.apply_allocation(state, the_org, credit, parts))
                if failed and summarize(request):
                    return 400, {**VALIDATION_EXCEPTION, "Elements": out}
                return 200, envelope("Allocations", out)
        return await write(request, act)

    @api.get("/Payments")
    async def list_payments(request: Request) -> Response:
        the_org = org(request)
        return listing(request, "Payments", list(the_org.payments.values()), "UpdatedDateUTC",
                       show=lambda payment: pay.render_payment(the_org, payment))

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
                for raw, (errors, parts) in zip(elements_of(payload, "Payments"), checked):
                    if errors or (failed and summarize(request)):
                        shown = {k: raw.get(k) for k in ("Invoice", "CreditNote", "Account", "Amount", "Reference")
                                 } if isinstance(raw, dict) else {}
                        out.append({**shown, "StatusAttributeString": "ERROR" if errors else "OK",
                                    "ValidationErrors": [{"Message": m} for m in errors]})
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
                    return 404, {"ErrorNumber": 404, "Type": "NotFoundException",
                                 "Message": "The resource you're looking for cannot be found"}
                wanted = (elements_of(payload, "Payments") or [{}])[0].get("Status")
                if wanted != "DELETED" or record["Status"] == "DELETED" or record["_doc"][0] == "overpayment":
                    message = "Payments can only be deleted, by setting Status to DELETED."
                    return 400, {**VALIDATION_EXCEPTION, "Elements": [
                        {**pay.render_payment(the_org, record), "ValidationErrors": [{"Message": message}]}]}
                pay.delete_payment(state, the_org, record)
                return 200, envelope("Payments", [pay.render_payment(the_org, record)])
        return await write(request, act)

    @api.get("/Overpayments")
    async def list_overpayments(request: Request) -> Response:
        return listing(request, "Overpayments", list(org(request).overpayments.values()), "UpdatedDateUTC")

    @api.get("/Overpayments/{ref}")
    async def get_overpayment(request: Request, ref: str) -> Response:
        record = org(request).overpayments.get(ref.lower())
        return json_response(envelope("Overpayments", [record])) if record else not_found()

    @api.get("/Contacts")
    async def list_contacts(request: Request) -> Response:
        records = list(org(request).contacts.values())
        wanted = csv(request, "IDs")
        if wanted is not None:
            records = [c for c in records if c["ContactID"] in wanted]
        if request.query_params.get("includeArchived", "false").lower() != "true":
            records = [c for c in records if c["ContactStatus"] != "ARCHIVED"]
        term = request.query_params.get("searchTerm", "").lower()
        if term:
            records = [c for c in records if any(term in str(c.get(k) or "").lower()
                                                 for k in ("Name", "EmailAddress", "ContactNumber", "AccountNumber"))]
        return listing(request, "Contacts", records, "Name")

    @api.get("/Contacts/{ref}")
    async def get_contact(request: Request, ref: str) -> Response:
        the_org = org(request)
        record = the_org.contacts.get(ref.lower()) or the_org.find_contact({"ContactNumber": ref})
        return json_response(envelope("Contacts", [record])) if record else not_found()

    async def save_contact(request: Request, method: str, target: str | None = None) -> Response:
        def act(payload: Any) -> tuple[int, Any]:
            status, out, _ = save_contacts(state, org(request), elements_of(payload, "Contacts"), method=method,
                                           summarize=summarize(request), target_id=target)
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
        return listing(request, "Accounts", list(org(request).accounts.values()), "Code", pageable=False)

    @api.get("/Accounts/{ref}")
    async def get_account(request: Request, ref: str) -> Response:
        record = org(request).account_by_id(ref.lower())
        return json_response(envelope("Accounts", [record])) if record else not_found()

    @api.get("/TaxRates")
    async def list_tax_rates(request: Request) -> Response:
        records = list(org(request).tax_rates.values())
        if request.query_params.get("TaxType"):
            records = [r for r in records if r["TaxType"] == request.query_params["TaxType"]]
        return listing(request, "TaxRates", records, "Name", pageable=False)

    @api.get("/TrackingCategories")
    async def list_tracking(request: Request) -> Response:
        records = [c for c in org(request).tracking if c["Status"] == "ACTIVE"
                   or request.query_params.get("includeArchived", "false").lower() == "true"]
        return listing(request, "TrackingCategories", records, "Name", pageable=False)

    @api.get("/TrackingCategories/{ref}")
    async def get_tracking(request: Request, ref: str) -> Response:
        record = next((c for c in org(request).tracking if c["TrackingCategoryID"] == ref.lower()), None)
        return json_response(envelope("TrackingCategories", [record])) if record else not_found()

    @api.get("/Organisation")
    async def organisation(request: Request) -> Response:
        the_org = org(request)
        return json_response(envelope("Organisations", [{
            "OrganisationID": the_org.tenant_id, "APIKey": "", "Name": the_org.name, "LegalName": the_org.name,
            "PaysTax": True, "Version": "AU", "OrganisationType": "COMPANY", "BaseCurrency": "AUD",
            "CountryCode": "AU", "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 30, "FinancialYearEndMonth": 6, "SalesTaxBasis": "ACCRUALS",
            "SalesTaxPeriod": "QUARTERLY1", "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Inclusive", "CreatedDateUTC": the_org.created,
            "OrganisationEntityType": "COMPANY", "Timezone": "AUSEASTERNSTANDARDTIME",
            "ShortCode": "!" + the_org.short[:5], "Edition": "BUSINESS", "Class": "PREMIUM",
            "Addresses": [], "Phones": [], "ExternalLinks": [], "PaymentTerms": {}}]))

    return api
