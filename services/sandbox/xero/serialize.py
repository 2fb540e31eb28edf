"""Xero's wire format: PascalCase JSON, money as numbers with cents, dates as
"/Date(ms+0000)/". Records are kept internally with Decimal and datetime values
and converted only here, at the edge."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_date(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), tzinfo=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return f"/Date({int(value.timestamp() * 1000)}+0000)/"


def with_date_strings(record: dict, dates: tuple[str, ...] = ("Date", "DueDate")) -> dict:
    """A document as Xero returns it: every date twice, in the /Date(ms)/ form and, beside
    it, as ISO text (`DateString`, `DueDateString`: "2026-11-20T00:00:00"; and
    `UpdatedDateUTCString`: "2026-11-20T09:30:00Z"), as the official OpenAPI document's
    examples show. Clients that read the text forms (and ignore the /Date(...)/ ones)
    see the same dates. Payments carry only the UpdatedDateUTC text (`dates=()`)."""
    out = dict(record)
    for name in dates:
        value = out.get(name)
        if isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            out[f"{name}String"] = f"{day.isoformat()}T00:00:00"
    stamp = out.get("UpdatedDateUTC")
    if isinstance(stamp, datetime):
        stamp = stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)
        out["UpdatedDateUTCString"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def parse_date(value: Any, field: str) -> date:
    """Request dates arrive as ISO ("2026-11-25", "2026-11-25T00:00:00") or in
    Xero's own /Date(...)/ form; a bad one is a ValueError naming the field."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = _MS_DATE.match(value.strip())
        if match:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc).date()
        try:
            return (
                datetime.fromisoformat(value.strip()[:19]).date()
                if "T" in value
                else date.fromisoformat(value.strip()[:10])
            )
        except ValueError:
            pass
    raise ValueError(f"{field}: '{value}' is not a valid date")


def parse_http_date(value: str) -> datetime:
    """If-Modified-Since: Xero accepts ISO timestamps (and RFC 1123 from HTTP clients)."""
    from email.utils import parsedate_to_datetime

    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = parsedate_to_datetime(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_wire(value: Any) -> Any:
    """Internal record (Decimal, datetime, nested dicts) -> JSON-ready value."""
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items() if item is not None and not key.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    if isinstance(value, Decimal):
        # Money leaves as a JSON number; the shortest float repr of a
        # two-place Decimal prints exactly the same digits.
        return float(value)
    if isinstance(value, (datetime, date)):
        return ms_date(value)
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(to_wire(value), separators=(",", ":")).encode()


def parse_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{field}: must be a number")
    try:
        # str() first so a float 0.1 arrives as 0.1, not its binary expansion.
        result = Decimal(str(value))
    except Exception:
        raise ValueError(f"{field}: '{value}' is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{field}: '{value}' is not a number")
    return result
