"""Pure logic of ingest: which ConnectWise records a poll asks for, the content
hash that decides whether a record changed, and the conversion of a
ConnectWise invoice (with its product lines) into a `cw_invoice_changed` event.
No I/O here.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ..common.cw_client import all_of, cond

SCALE = Decimal("0.0001")  # the Avro decimal scale of money and quantities
CREDIT_MEMO = "CreditMemo"
INVOICE_TYPES = ("invoice", "credit_note")
TRIGGERS = ("SCHEDULE", "CALLBACK", "FORCE_SYNC", "REPLAY")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Fields left out of the content hash, and why:
#   _info: lastUpdated moves on any touch, even one that changes nothing we sync;
#   payments, credits, balance: they move when a payment is applied in ConnectWise
#   (the matcher applies Xero payments there), which must not send the invoice
#   back to Xero as an edit, or every payment would loop.
#   status (of an invoice): ConnectWise moves it to Paid when a payment lands, which
#   is not an edit either; only whether the invoice is void counts (see `_status_key`);
#   receivedQuantity, receivedStatus (of a purchase-order line): goods arriving do
#   not change the bill.
HASH_EXCLUDED = frozenset({"_info", "payments", "credits", "balance"})
LINE_HASH_EXCLUDED = frozenset({"_info", "receivedQuantity", "receivedStatus"})
VOID_STATUSES = frozenset({"void", "voided"})


class RecordError(ValueError):
    """A ConnectWise record that cannot become an event; names the field and why."""

    def __init__(self, cw_id: Any, field: str, reason: str):
        super().__init__(f"ConnectWise record {cw_id}: {field}: {reason}")
        self.cw_id, self.field, self.reason = cw_id, field, reason


# --- what to ask for ------------------------------------------------------------

def type_condition(record_type: str) -> str:
    """Invoices are every billing type but CreditMemo; credit notes are CreditMemo."""
    if record_type == "invoice":
        return cond("type", "!=", CREDIT_MEMO)
    if record_type == "credit_note":
        return cond("type", "=", CREDIT_MEMO)
    raise ValueError(f"record_type: {record_type!r} is not an invoice type (invoice, credit_note)")


def changed_since(cursor: datetime, overlap: timedelta) -> str:
    """`lastUpdated > [cursor - overlap]`: the overlap re-reads the edge so a
    record edited while the previous poll ran is not missed (its hash makes the
    re-read free)."""
    if overlap < timedelta(0):
        raise ValueError("overlap: must not be negative")
    since = max(cursor - overlap, EPOCH)
    return cond("lastUpdated", ">", since)


def window(start: datetime, end: datetime) -> str:
    """`lastUpdated >= [start] and lastUpdated <= [end]` (a replay window)."""
    if start > end:
        raise ValueError(f"window: from {start.isoformat()} is after to {end.isoformat()}")
    return all_of(cond("lastUpdated", ">=", start), cond("lastUpdated", "<=", end))


def poll_conditions(record_type: str, cursor: datetime, overlap: timedelta) -> str:
    return all_of(type_condition(record_type), changed_since(cursor, overlap))


def record_type_of(invoice: dict) -> str:
    return "credit_note" if invoice.get("type") == CREDIT_MEMO else "invoice"


# --- content hash ----------------------------------------------------------------

def _canonical(value: Any) -> Any:
    """Equal content gives equal JSON: Decimals without trailing zeros, dict keys sorted later."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):  # only reached by callers that parsed JSON without Decimal
        return format(Decimal(repr(value)).normalize(), "f")
    return value


def _status_key(status) -> str:
    name = status.get("name") if isinstance(status, dict) else status
    return "void" if str(name or "").strip().lower() in VOID_STATUSES else "live"


def normalize(record: dict, lines: list[dict]) -> dict:
    head = {k: v for k, v in record.items() if k not in HASH_EXCLUDED}
    if "invoiceNumber" in record and "status" in head:
        head["status"] = _status_key(head["status"])
    body = [_canonical({k: v for k, v in line.items() if k not in LINE_HASH_EXCLUDED}) for line in lines]
    # Line order is not content: sort by id, and by the line itself when ids are missing or repeat.
    body.sort(key=lambda line: (str(line.get("id")), json.dumps(line, sort_keys=True) if line.get("id") is None else ""))
    if len({line.get("id") for line in body}) < len(body):
        body.sort(key=lambda line: (str(line.get("id")), json.dumps(line, sort_keys=True)))
    return {"record": _canonical(head), "lines": body}


def content_hash(record: dict, lines: list[dict] | None = None) -> str:
    """sha256 of the normalized record and its lines; key order and line order do not matter."""
    text = json.dumps(normalize(record, lines or []), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- conversion ------------------------------------------------------------------

def parse_cw_datetime(value: Any, cw_id: Any = None, field: str = "_info.lastUpdated") -> datetime:
    if not isinstance(value, str) or not value:
        raise RecordError(cw_id, field, f"missing or not a datetime: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(cw_id, field, f"not an ISO-8601 datetime: {value!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def last_updated(record: dict) -> datetime:
    return parse_cw_datetime((record.get("_info") or {}).get("lastUpdated"), record.get("id"))


def money(value: Any, cw_id: Any, field: str, default: Decimal | None = None) -> Decimal:
    if value is None:
        if default is not None:
            return default
        raise RecordError(cw_id, field, "missing")
    if isinstance(value, float):
        raise RecordError(cw_id, field, "arrived as float; parse ConnectWise JSON with Decimal")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RecordError(cw_id, field, f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise RecordError(cw_id, field, f"not a finite number: {value!r}")
    return amount.quantize(SCALE)


def _date_only(value: Any) -> str | None:
    """ConnectWise sends dates as `2025-01-31T00:00:00Z`; the event carries the date."""
    if not value:
        return None
    text = str(value)
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else text


def _ref(record: dict, name: str) -> dict:
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def _id_of(record: dict, flat: str, ref: str) -> int | None:
    value = record.get(flat)
    if value is None:
        value = _ref(record, ref).get("id")
    return None if value is None else int(value)


def _identifier(record: dict, *names: str) -> str | None:
    """The identifier of the first member-like reference present (`member`,
    `accountManager`, ...), accepting a plain string too."""
    for name in names:
        value = record.get(name)
        if isinstance(value, dict) and value.get("identifier"):
            return str(value["identifier"])
        if isinstance(value, str) and value:
            return value
    return None


def _currency(record: dict) -> str | None:
    value = record.get("currency")
    if isinstance(value, dict):
        return value.get("currencyCode") or value.get("isoCode") or value.get("name")
    return value or None


def custom_fields(record: dict) -> list[dict]:
    out = []
    for field in record.get("customFields") or []:
        if not isinstance(field, dict) or not field.get("caption"):
            continue
        value = field.get("value")
        out.append({"caption": str(field["caption"]), "value": None if value is None else str(value)})
    return out


def to_line(product: dict, cw_id: Any) -> dict:
    catalog = _ref(product, "catalogItem")
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


def to_invoice_event(invoice: dict, products: list[dict], *, trigger: str = "SCHEDULE",
                     observed_at: datetime | None = None, hash_: str | None = None,
                     extra_refs: dict | None = None) -> dict:
    """The `cw_invoice_changed` event of a ConnectWise invoice or credit memo.

    `extra_refs` may carry `member_identifier` / `account_manager_identifier`
    looked up elsewhere (the invoice itself does not always name them).
    """
    cw_id = invoice.get("id")
    if cw_id is None:
        raise RecordError(None, "id", "missing")
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")
    company = _ref(invoice, "company")
    if company.get("id") is None:
        raise RecordError(cw_id, "company.id", "missing")
    if not invoice.get("invoiceNumber"):
        raise RecordError(cw_id, "invoiceNumber", "missing")
    invoice_date = _date_only(invoice.get("date"))
    if not invoice_date:
        raise RecordError(cw_id, "date", "missing")
    status = invoice.get("status")
    tax_code = invoice.get("taxCode")
    refs = extra_refs or {}
    total = money(invoice.get("total"), cw_id, "total")
    return {
        "record_type": record_type_of(invoice),
        "cw_id": int(cw_id),
        "trigger": trigger,
        "change": "UPSERT",
        "observed_at": observed_at or datetime.now(timezone.utc),
        "last_updated": last_updated(invoice),
        "content_hash": hash_ or content_hash(invoice, products),
        "invoice_number": str(invoice["invoiceNumber"]),
        "invoice_type": str(invoice.get("type") or "Standard"),
        "status": (status.get("name") if isinstance(status, dict) else status) or None,
        "company_id": int(company["id"]),
        "company_identifier": str(company.get("identifier") or ""),
        "company_name": str(company.get("name") or ""),
        "date": invoice_date,
        "due_date": _date_only(invoice.get("dueDate")),
        "location_id": _id_of(invoice, "locationId", "location"),
        "department_id": _id_of(invoice, "departmentId", "department"),
        "member_identifier": refs.get("member_identifier") or _identifier(invoice, "member", "createdBy"),
        "account_manager_identifier": refs.get("account_manager_identifier") or _identifier(invoice, "accountManager"),
        "currency": _currency(invoice),
        "tax_code": (tax_code.get("name") if isinstance(tax_code, dict) else tax_code) or None,
        "subtotal": money(invoice.get("subtotal"), cw_id, "subtotal"),
        "sales_tax": money(invoice.get("salesTax"), cw_id, "salesTax", Decimal(0)),
        "total": total,
        "balance": money(invoice.get("balance"), cw_id, "balance", total),
        "custom_fields": custom_fields(invoice),
        "lines": [to_line(p, cw_id) for p in sorted(products, key=lambda p: int(p["id"]))],
        "raw": dumps_cw_json(invoice),
    }


# What sync_records keeps of an emitted record, so its deletion can be routed later.
SNAPSHOT_FIELDS = ("invoice_number", "invoice_type", "status", "company_id", "company_identifier", "company_name",
                   "date", "due_date", "location_id", "department_id", "member_identifier",
                   "account_manager_identifier", "currency", "tax_code", "custom_fields")
DELETED_PREFIX = "deleted:"


def snapshot_of(event: dict) -> dict:
    return {name: event.get(name) for name in SNAPSHOT_FIELDS}


def deleted_event(record_type: str, cw_id: int | str, snapshot: dict | None, *, observed_at: datetime,
                  last_seen: datetime | None = None, number: str | None = None,
                  trigger: str = "SCHEDULE") -> dict:
    """A `cw_invoice_changed` with change DELETED for a record gone from
    ConnectWise, carrying the routing facts last seen (money zero, no lines)."""
    known = dict(snapshot or {})
    zero = Decimal(0).quantize(SCALE)
    event = {name: known.get(name) for name in SNAPSHOT_FIELDS}
    event.update({
        "record_type": record_type, "cw_id": int(cw_id), "trigger": trigger, "change": "DELETED",
        "observed_at": observed_at, "last_updated": last_seen or observed_at,
        "content_hash": DELETED_PREFIX + hashlib.sha256(f"{record_type}|{cw_id}".encode()).hexdigest(),
        "invoice_number": str(known.get("invoice_number") or number or ""),
        "invoice_type": str(known.get("invoice_type") or (CREDIT_MEMO if record_type == "credit_note" else "Standard")),
        "company_id": int(known.get("company_id") or 0),
        "company_identifier": str(known.get("company_identifier") or ""),
        "company_name": str(known.get("company_name") or ""),
        "date": str(known.get("date") or ""),
        "custom_fields": list(known.get("custom_fields") or []),
        "subtotal": zero, "sales_tax": zero, "total": zero, "balance": zero, "lines": [],
        "raw": json.dumps({"id": int(cw_id), "deleted": True}),
    })
    return event


_NUMBER = "\u0000n"  # marks a Decimal written as a string, unmarked after dumping
_ESCAPE = "\u0000s"  # prefixes a real string that starts with NUL, so it is never taken for a mark


def dumps_cw_json(value: Any) -> str:
    """JSON text of a record parsed with Decimal numbers, the numbers written as
    numbers again (json cannot write a Decimal, and float would round)."""

    def text(v: str) -> str:
        return _ESCAPE + v if v.startswith("\u0000") else v

    def mark(v: Any) -> Any:
        if isinstance(v, dict):
            return {text(k): mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        if isinstance(v, Decimal):
            return f"{_NUMBER}{v}"
        if isinstance(v, str):
            return text(v)
        return v

    out = json.dumps(mark(value), ensure_ascii=False, separators=(",", ":"))
    out = re.sub(r'"\\u0000n([-+0-9.eE]+)"', r"\1", out)
    return out.replace('"\\u0000s', '"')
