"""Records to ConnectWise JSON: Decimal money as JSON numbers written with
their cents (12.50, not 12.5, and never through float), datetimes as ISO-8601
UTC with `Z`, and null fields left out as ConnectWise leaves them out."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

# The json module can only write a number from a float, which would lose the
# trailing zero (and, for other values, exactness). A Decimal is written as a
# marked string and the marks are stripped afterwards, leaving its exact text.
_MARK = "\x00"
_MARKED = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def plain(value: Any) -> Any:
    """The JSON-ready form of a record (or list of records)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return f"{_MARK}{value:f}{_MARK}"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def to_json(value: Any) -> bytes:
    text = json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text).encode()
