"""Records to ConnectWise JSON: Decimal money as JSON numbers (rounded to cents
already), datetimes as ISO-8601 UTC with `Z`, and null fields left out as
ConnectWise leaves them out."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """The JSON-ready form of a record (or list of records)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        # A JSON number: the product parses it back with Decimal, and a value already
        # rounded to cents survives the shortest float repr exactly.
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def to_json(value: Any) -> bytes:
    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False).encode()
