"""Pure logic shared by every ingest source: the changed-since and window
conditions, the content hash that decides whether a record changed, and the
parsing of ConnectWise values (datetimes, Decimal money, references, custom
fields) into event fields. No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ..integrations.connectwise.client import all_of, cond

SCALE = Decimal("0.0001")  # the Avro decimal scale of money and quantities
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


def event_id(record: dict, trigger: str):
    """The ConnectWise id an event is keyed by, after checking the record has one and the trigger is known."""
    cw_id = record.get("id")
    if cw_id is None:
        raise RecordError(None, "id", "missing")
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")
    return cw_id


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
    body.sort(
        key=lambda line: (str(line.get("id")), json.dumps(line, sort_keys=True) if line.get("id") is None else "")
    )
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


def date_only(value: Any) -> str | None:
    """ConnectWise sends dates as `2025-01-31T00:00:00Z`; the event carries the date."""
    if not value:
        return None
    text = str(value)
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else text


def ref(record: dict, name: str) -> dict:
    """A reference object (`company`, `location`...), or {} when absent."""
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def ref_id(record: dict, flat: str, nested: str) -> int | None:
    """An id ConnectWise gives flat (`locationId`) or as a reference (`location.id`)."""
    value = record.get(flat)
    if value is None:
        value = ref(record, nested).get("id")
    return None if value is None else int(value)


def identifier_of(record: dict, *names: str) -> str | None:
    """The identifier of the first member-like reference present (`member`,
    `accountManager`, ...), accepting a plain string too."""
    for name in names:
        value = record.get(name)
        if isinstance(value, dict) and value.get("identifier"):
            return str(value["identifier"])
        if isinstance(value, str) and value:
            return value
    return None


def name_of(value: Any) -> Any:
    """A value ConnectWise gives as a reference (`{"name": ...}`) or plain; None when empty."""
    return (value.get("name") if isinstance(value, dict) else value) or None


def currency_code(record: dict) -> str | None:
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


DELETED_PREFIX = "deleted:"  # content hash of a record emitted as DELETED


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
