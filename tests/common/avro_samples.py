"""Builds a sample record for any Avro schema, so every schema is exercised
without a hand-written fixture per event type."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal


def sample(schema, named: dict | None = None):
    named = {} if named is None else named
    if isinstance(schema, str):
        return {
            "string": "text-é", "long": 1234567890123, "int": 42, "double": 1.5, "boolean": True,
            "bytes": b"\x00\x01", "null": None,
        }.get(schema, None) if schema not in named else sample(named[schema], named)
    if isinstance(schema, list):  # union: the first non-null branch
        branch = next((b for b in schema if b != "null"), "null")
        return sample(branch, named)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "decimal":
        return Decimal("-1234.5678")
    if logical == "timestamp-millis":
        return datetime(2026, 1, 31, 23, 59, 58, 123000, tzinfo=timezone.utc)
    if kind == "record":
        named[schema["name"]] = schema
        return {f["name"]: sample(f["type"], named) for f in schema["fields"]}
    if kind == "enum":
        named[schema["name"]] = schema
        return schema["symbols"][-1]
    if kind == "array":
        return [sample(schema["items"], named), sample(schema["items"], named)]
    if kind == "map":
        return {"k": sample(schema["values"], named)}
    return sample(kind, named)
