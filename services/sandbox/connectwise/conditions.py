"""The ConnectWise `conditions` query language as pure functions: parse a
condition string into a tree, compile the tree into a predicate over a record.

Grammar (keywords case-insensitive):
    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := path op value
    path       := name ("/" name)*
    op         := = | != | < | <= | > | >= | [not] contains | [not] like | [not] in
    value      := "string" | [datetime] | number | true | false | null | "(" value ("," value)* ")"

`and` binds tighter than `or`, as in SQL (ConnectWise hands conditions to SQL Server).
String comparisons ignore case for the same reason (SQL Server's default collation).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

from .condition_syntax import BoolOp, Compare, ConditionError, Not, parse, parse_datetime

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
__all__ = [
    "BoolOp",
    "Compare",
    "ConditionError",
    "Not",
    "parse",
    "parse_datetime",
    "lookup",
    "compile_tree",
    "compile_conditions",
    "match_custom_fields",
    "field_paths",
]


def field_paths(tree: Any) -> Iterable[tuple[str, ...]]:
    if isinstance(tree, Compare):
        yield tree.path
    elif isinstance(tree, BoolOp):
        yield from field_paths(tree.left)
        yield from field_paths(tree.right)
    elif isinstance(tree, Not):
        yield from field_paths(tree.operand)


def lookup(record: Record, path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        # dict, not Mapping: an ABC check per step costs more than the whole lookup
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _normalise(value: Any) -> Any:
    """Comparable form: case-folded strings, Decimal numbers, aware datetimes."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return value


def _coerce(record_value: Any, literal: Any, path: tuple[str, ...]) -> Any:
    """The literal in the record value's type, or ConditionError when they cannot meet."""
    literal = _normalise(literal)
    if record_value is None or literal is None:
        return literal
    if isinstance(record_value, bool) != isinstance(literal, bool):
        raise ConditionError(f"{'/'.join(path)} needs a {_kind(record_value)} value")
    if isinstance(record_value, datetime) and not isinstance(literal, datetime):
        if isinstance(literal, str):
            return parse_datetime(literal)
        raise ConditionError(f"{'/'.join(path)} needs a datetime in brackets, e.g. [2025-01-31T00:00:00Z]")
    if isinstance(record_value, Decimal) and not isinstance(literal, Decimal):
        try:
            return Decimal(literal)
        except (InvalidOperation, TypeError):
            raise ConditionError(f"{'/'.join(path)} needs a number") from None
    if isinstance(record_value, str) and not isinstance(literal, str):
        return str(literal).casefold()
    return literal


def _kind(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else type(value).__name__


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in re.split(r"[*%]", pattern))
    return re.compile(".*".join(parts) + r"\Z", re.IGNORECASE | re.DOTALL)


def _compare(node: Compare, resolve: Callable[[Record, tuple[str, ...]], Any]) -> Predicate:
    path, op, literal = node.path, node.op, node.value
    base = op[4:] if op.startswith("not ") else op
    negate = op.startswith("not ")
    cache: dict[type, Any] = {}

    def coerced(record_value: Any) -> Any:
        # Literals are coerced once per record-value type, not once per record.
        key = type(record_value)
        if key not in cache:
            cache[key] = (
                tuple(_coerce(record_value, v, path) for v in literal)
                if base == "in"
                else _coerce(record_value, literal, path)
            )
        return cache[key]

    def test(record: Record) -> bool:
        raw = resolve(record, path)
        value = _normalise(raw)
        if base == "contains":
            if value is None:
                return negate
            text = value if isinstance(value, str) else str(value).casefold()
            return (literal.casefold() in text) != negate
        want = coerced(value)
        if base == "in":
            return (value in want) != negate
        if want is None or value is None:
            return (value is want) if base == "=" else (value is not want) if base == "!=" else False
        if base == "=":
            return value == want
        if base == "!=":
            return value != want
        try:
            return {"<": value < want, "<=": value <= want, ">": value > want, ">=": value >= want}[base]
        except TypeError:
            raise ConditionError(f"{'/'.join(path)} cannot be compared with {base}") from None

    if base == "like":
        compiled = _like(literal)

        def test_like(record: Record) -> bool:
            value = resolve(record, path)
            if value is None:
                return negate
            return bool(compiled.match(str(value))) != negate

        return test_like
    return test


def compile_tree(tree: Any, resolve: Callable[[Record, tuple[str, ...]], Any] = lookup) -> Predicate:
    """A predicate for the tree; `resolve` finds a path's value in a record (so a
    resource can alias fields, e.g. lastUpdated to _info/lastUpdated)."""
    if isinstance(tree, Compare):
        return _compare(tree, resolve)
    if isinstance(tree, Not):
        inner = compile_tree(tree.operand, resolve)
        return lambda record: not inner(record)
    left, right = compile_tree(tree.left, resolve), compile_tree(tree.right, resolve)
    if tree.op == "and":
        return lambda record: left(record) and right(record)
    return lambda record: left(record) or right(record)


def compile_conditions(
    text: str,
    known_paths: Callable[[tuple[str, ...]], bool] | None = None,
    resolve: Callable[[Record, tuple[str, ...]], Any] = lookup,
) -> Predicate:
    """Parse and compile; with `known_paths`, a field the resource does not have is refused."""
    tree = parse(text)
    if known_paths is not None:
        for path in field_paths(tree):
            if not known_paths(path):
                raise ConditionError(f"unknown field {'/'.join(path)}")
    return compile_tree(tree, resolve)


def match_custom_fields(predicate: Predicate, custom_fields: Iterable[Record] | None) -> bool:
    """customFieldConditions hold when one custom field of the record satisfies them."""
    return any(predicate(field) for field in custom_fields or ())
