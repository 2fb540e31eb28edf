"""Request bodies to records, validated as ConnectWise does: a missing or bad
field gets a 400 naming it. POST and PUT share one builder; PATCH (a JSON Patch
list of {op, path, value}) is applied to the current record and then built
like a PUT, so every route enforces the same rules."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

from .. import seed_model as m
from ..seed_model import money
from . import records as r
from .conditions import ConditionError, parse_datetime
from .errors import CwError, invalid, missing
from .state import CwState
from .store import Record

READ_ONLY = {"id", "subtotal", "total", "salesTax", "payments", "credits", "balance", "_info"}


@overload
def _ref_id(body: dict[str, Any], name: str, resource: str, required: Literal[True]) -> int: ...


@overload
def _ref_id(body: dict[str, Any], name: str, resource: str, required: bool = False) -> int | None: ...


def _ref_id(body: dict[str, Any], name: str, resource: str, required: bool = False) -> int | None:
    """The numeric id of reference `name` (`{"id": n}` or a bare n); None when absent,
    unless `required`, when absence is a 400."""
    value = body.get(name)
    if value is None:
        if required:
            raise missing(resource, name)
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(resource, name, f"{name} must be a reference with a numeric id")
    return value


def parse_when(value: Any, field: str, resource: str) -> datetime:
    if not isinstance(value, str):
        raise invalid(resource, field, f"{field} must be an ISO-8601 datetime string")
    try:
        return parse_datetime(value)
    except ConditionError:
        raise invalid(resource, field, f"{field} must look like 2025-01-31T00:00:00Z, got {value!r}") from None


def parse_money(value: Any, field: str, resource: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise invalid(resource, field, f"{field} must be a number")
    try:
        # str() first: a float from JSON becomes the decimal text it was written as.
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid(resource, field, f"{field} must be a number, got {value!r}") from None
    if amount != money(amount):
        raise invalid(resource, field, f"{field} has more than 2 decimal places")
    return money(amount)


def build_invoice(state: CwState, body: Any, existing: Record | None = None) -> Record:
    """An invoice record from a POST/PUT body (totals are derived by the state)."""
    if not isinstance(body, dict):
        raise CwError(400, "InvalidObject", "the request body must be a JSON object")
    kind = body.get("type", existing["type"] if existing else "Standard")
    if kind not in r.INVOICE_TYPES:
        raise invalid("Invoice", "type", f"type must be one of {', '.join(r.INVOICE_TYPES)}")
    company_id = _ref_id(body, "company", "Invoice", required=True)
    company = state.c["companies"].get(company_id)
    if company is None:
        raise invalid("Invoice", "company", f"company {company_id} does not exist")
    loc_id = _ref_id(body, "location", "Invoice") or _ref_id(body, "locationId", "Invoice") or company["locationId"]
    loc = state.c["locations"].get(loc_id)
    if loc is None:
        raise invalid("Invoice", "location", f"location {loc_id} does not exist")
    dep_id = _ref_id(body, "department", "Invoice") or _ref_id(body, "departmentId", "Invoice") or 1
    dep = state.c["departments"].get(dep_id)
    if dep is None:
        raise invalid("Invoice", "department", f"department {dep_id} does not exist")
    tax_id = _ref_id(body, "taxCode", "Invoice") or company["taxCode"]["id"]
    if tax_id not in state.tax_rates:
        raise invalid("Invoice", "taxCode", f"tax code {tax_id} does not exist")
    terms = body.get("billingTerms") or company["billingTerms"]
    day = (
        parse_when(body["date"], "date", "Invoice")
        if body.get("date")
        else state.now().replace(hour=0, minute=0, second=0)
    )
    if not isinstance(terms, dict):
        raise invalid("Invoice", "billingTerms", "billingTerms must be a reference {id, name}")
    term_days = _term_days(terms)
    due = parse_when(body["dueDate"], "dueDate", "Invoice") if body.get("dueDate") else day + timedelta(days=term_days)
    number = body.get("invoiceNumber") or (existing["invoiceNumber"] if existing else None)
    if number is None:
        number = f"INV-{state.new_id('invoiceNumber')}"
    elif not isinstance(number, str) or not number.strip():
        raise invalid("Invoice", "invoiceNumber", "invoiceNumber must be a non-empty string")
    clash = [
        i
        for i in state.c["invoices"].lookup(("invoiceNumber",), number) or ()
        if existing is None or i != existing["id"]
    ]
    if clash:
        raise invalid(
            "Invoice", "invoiceNumber", f"invoice number {number} is already used by invoice {clash[0]}", "Duplicate"
        )
    status = body.get("status") or (existing["status"] if existing else {"name": "New"})
    status_name = status.get("name") if isinstance(status, dict) else None
    if status_name is None and isinstance(status, dict) and status.get("id") in r.INVOICE_STATUSES.values():
        status_name = next(k for k, v in r.INVOICE_STATUSES.items() if v == status["id"])
    if status_name not in r.INVOICE_STATUSES:
        raise invalid("Invoice", "status", f"status must be one of {', '.join(r.INVOICE_STATUSES)}")
    apply_to = body.get("applyToId")
    if apply_to is not None and apply_to not in state.c["invoices"].by_id:
        raise invalid("Invoice", "applyToId", f"invoice {apply_to} does not exist")
    apply_to_type = body.get("applyToType") or "All"
    if apply_to_type not in r.APPLY_TO_TYPES:
        raise invalid("Invoice", "applyToType", f"applyToType must be one of {', '.join(r.APPLY_TO_TYPES)}")
    ref = r.company_ref(company)
    zero = Decimal("0.00")
    kept = existing or {"id": state.new_id("invoices"), "_info": r.info(state.now())}
    # Same key order as a seeded invoice; totals are derived by the state afterwards.
    return {
        "id": kept["id"],
        "invoiceNumber": number,
        "type": kind,
        "status": {"id": r.INVOICE_STATUSES[status_name], "name": status_name},
        "company": ref,
        "billToCompany": ref,
        "shipToCompany": ref,
        "applyToType": apply_to_type,
        "applyToId": apply_to,
        "date": day,
        "dueDate": due,
        "billingTerms": terms,
        "reference": body.get("reference", ""),
        "customerPO": body.get("customerPO", ""),
        "location": {"id": loc["id"], "name": loc["name"]},
        "locationId": loc["id"],
        "department": {"id": dep["id"], "identifier": dep["identifier"], "name": dep["name"]},
        "departmentId": dep["id"],
        "territoryId": body.get("territoryId"),
        "taxCode": {"id": tax_id, "name": next(t.name for t in state.msp.tax_codes if t.id == tax_id)},
        "subtotal": zero,
        "salesTax": zero,
        "total": zero,
        "payments": kept.get("payments", zero),
        "credits": kept.get("credits", zero),
        "balance": zero,
        "currency": dict(existing["currency"]) if existing else dict(company["currency"]),
        "customFields": _custom_fields(body.get("customFields"), existing, company, day),
        "_info": kept["_info"],
    }


def _term_days(terms: dict[str, Any]) -> int:
    words = str(terms.get("name") or "").split()
    return int(words[-1]) if words and words[-1].isdigit() else 30


def _custom_fields(given: Any, existing: Record | None, company: Record, day: datetime) -> list[Record]:
    """As the invoice had them, or a new invoice's: its company's Xero Entity and, billed in
    another currency, the exchange rate the MSP records for the day."""
    code = company["currency"]["currencyCode"]
    current = (
        copy.deepcopy(existing["customFields"])
        if existing
        else [
            r.custom_field(
                next((f.get("value") for f in company["customFields"] if f["caption"] == "Xero Entity"), None)
            )
        ]
        + ([r.exchange_rate_field(m.recorded_rate(code, day.date()))] if code != m.BASE_CURRENCY else [])
    )
    if given is None:
        return current
    if not isinstance(given, list):
        raise invalid("Invoice", "customFields", "customFields must be a list")
    by_id = {f["id"]: f for f in current}
    for item in given:
        if not isinstance(item, dict) or item.get("id") not in by_id:
            raise invalid("Invoice", "customFields", f"unknown custom field {item!r}")
        by_id[item["id"]]["value"] = item.get("value")
    return current


def apply_patch(record: Record, ops: Any) -> dict[str, Any]:
    """A JSON Patch (replace/add/remove on a path such as `status/id`) applied to a copy."""
    if not isinstance(ops, list) or not ops:
        raise CwError(400, "InvalidObject", "PATCH body must be a non-empty list of operations")
    doc = copy.deepcopy({k: v for k, v in record.items() if k not in READ_ONLY})
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("replace", "add", "remove") or not op.get("path"):
            raise CwError(400, "InvalidObject", f"invalid patch operation {op!r}")
        parts = [p for p in str(op["path"]).strip("/").split("/") if p]
        if parts[0] in READ_ONLY:
            raise invalid("Invoice", parts[0], f"{parts[0]} is read-only")
        target = doc
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise invalid("Invoice", op["path"], f"cannot patch into {op['path']}")
        if op["op"] == "remove":
            target.pop(parts[-1], None)
        else:
            if parts[-1] == "id" and len(parts) > 1:
                # Replacing a reference's id replaces the reference (ConnectWise looks up the rest).
                parent = doc
                for part in parts[:-2]:
                    parent = parent[part]
                parent[parts[-2]] = {"id": op.get("value")}
            else:
                target[parts[-1]] = op.get("value")
    for name in ("date", "dueDate"):
        if isinstance(doc.get(name), datetime):
            doc[name] = doc[name].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if doc.get("location", {}).get("id") != doc.get("locationId"):
        doc.pop("locationId", None)  # the reference wins when a patch changed it
    if doc.get("department", {}).get("id") != doc.get("departmentId"):
        doc.pop("departmentId", None)
    return doc


def build_callback(body: Any) -> Record:
    if not isinstance(body, dict):
        raise CwError(400, "InvalidObject", "the request body must be a JSON object")
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("Callback", "url", "url must be an http(s) URL")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise missing("Callback", "type")
    object_id = body.get("objectId", 0)
    if not isinstance(object_id, int):
        raise invalid("Callback", "objectId", "objectId must be a number")
    return {
        "description": body.get("description", ""),
        "url": url,
        "objectId": object_id,
        "type": kind,
        "level": body.get("level", "All"),
        "memberId": body.get("memberId"),
        "inactiveFlag": bool(body.get("inactiveFlag", False)),
        "isSoapCallbackFlag": False,
        "isSelfSuppressedFlag": False,
    }


def product_fields(state: CwState, body: Any) -> tuple[int, Any, Decimal, Decimal | None]:
    """(invoice id, catalog item, quantity, price or None) of a POSTed product."""
    if not isinstance(body, dict):
        raise CwError(400, "InvalidObject", "the request body must be a JSON object")
    invoice_id = _ref_id(body, "invoice", "ProductItem", required=True)
    state.require("invoices", invoice_id, "Invoice")
    item_id = _ref_id(body, "catalogItem", "ProductItem", required=True)
    item = state.catalog.get(item_id)
    if item is None:
        raise invalid("ProductItem", "catalogItem", f"catalog item {item_id} does not exist")
    if body.get("quantity") is None:
        raise missing("ProductItem", "quantity")
    quantity = quantity_of(body["quantity"])
    price = parse_money(body["price"], "price", "ProductItem") if body.get("price") is not None else None
    return invoice_id, item, quantity, price


def quantity_of(value: Any, resource: str = "ProductItem") -> Decimal:
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        raise invalid(resource, "quantity", f"quantity must be a number, got {value!r}") from None
    if isinstance(value, bool) or not quantity.is_finite() or quantity <= 0:
        raise invalid(resource, "quantity", "quantity must be a number above zero")
    return quantity


def product_patch(product: Record, ops: Any) -> dict[str, Decimal]:
    """Quantity and price changes from a JSON Patch on a product (the fields the
    simulator lets a client edit on an invoice line)."""
    if not isinstance(ops, list) or not ops:
        raise CwError(400, "InvalidObject", "PATCH body must be a non-empty list of operations")
    changes: dict[str, Decimal] = {}
    for op in ops:
        path = str(op.get("path", "")).strip("/") if isinstance(op, dict) else ""
        if not isinstance(op, dict) or op.get("op") != "replace" or path not in ("quantity", "price"):
            raise invalid("ProductItem", path or "path", "only replace of quantity or price is supported")
        changes[path] = (
            quantity_of(op.get("value")) if path == "quantity" else parse_money(op.get("value"), "price", "ProductItem")
        )
    return changes
