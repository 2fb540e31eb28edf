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
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


class ConditionError(ValueError):
    """A condition that cannot be parsed or does not fit the resource."""


@dataclass(frozen=True)
class Compare:
    path: tuple[str, ...]
    op: str
    value: Any  # str | Decimal | datetime | bool | None | tuple of those


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<datetime>\[[^\]]*\])
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)
_WORD_OPS = {"contains", "like", "in"}
_KEYWORDS = {"and", "or", "not", "true", "false", "null"} | _WORD_OPS


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos] == '"':
                raise ConditionError(f"unterminated string starting at position {pos}")
            if text[pos] == "[":
                raise ConditionError(f"unterminated datetime bracket at position {pos}")
            raise ConditionError(f"unexpected character {text[pos]!r} at position {pos}")
        kind, raw = match.lastgroup, match.group()
        if kind == "string":
            out.append(("value", re.sub(r"\\(.)", r"\1", raw[1:-1]), pos))
        elif kind == "datetime":
            out.append(("value", parse_datetime(raw[1:-1].strip(), pos), pos))
        elif kind == "number":
            out.append(("value", Decimal(raw), pos))
        elif kind == "op":
            out.append(("op", "!=" if raw == "<>" else raw, pos))
        elif kind == "punct":
            out.append((raw, raw, pos))
        elif kind == "name":
            lower = raw.lower()
            if lower in ("true", "false"):
                out.append(("value", lower == "true", pos))
            elif lower == "null":
                out.append(("value", None, pos))
            elif lower in _KEYWORDS:
                out.append((lower, lower, pos))
            else:
                out.append(("name", raw, pos))
        pos = match.end()
    return out


def parse_datetime(text: str, pos: int = 0) -> datetime:
    """A bracketed ConnectWise datetime; no offset means UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConditionError(f"invalid datetime [{text}] at position {pos}; expected [YYYY-MM-DDTHH:MM:SSZ]") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None) -> tuple[str, Any, int]:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"unexpected end of conditions{f'; expected {kind}' if kind else ''}")
        if kind and tok[0] != kind:
            raise ConditionError(f"expected {kind} at position {tok[2]}, found {self._show(tok)}")
        self.i += 1
        return tok

    @staticmethod
    def _show(tok: tuple[str, Any, int]) -> str:
        return repr(tok[1]) if tok[0] != "value" else "a value"

    def parse(self) -> Any:
        if not self.toks:
            raise ConditionError("conditions are empty")
        tree = self.expr()
        tok = self.peek()
        if tok is not None:
            raise ConditionError(f"unexpected {self._show(tok)} at position {tok[2]}; expected and/or")
        return tree

    def expr(self) -> Any:
        node = self.and_expr()
        while (tok := self.peek()) and tok[0] == "or":
            self.i += 1
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Any:
        node = self.unary()
        while (tok := self.peek()) and tok[0] == "and":
            self.i += 1
            node = BoolOp("and", node, self.unary())
        return node

    def unary(self) -> Any:
        tok = self.peek()
        if tok and tok[0] == "not":
            self.i += 1
            return Not(self.unary())
        if tok and tok[0] == "(":
            self.i += 1
            node = self.expr()
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Compare:
        kind, name, pos = self.take("name") if (t := self.peek()) and t[0] == "name" else self._no_field()
        negate = False
        tok = self._operator(name)
        if tok[0] == "not":
            negate, tok = True, self._operator(name)
            if tok[0] not in _WORD_OPS:
                raise ConditionError(f"'not' must be followed by contains, like or in at position {tok[2]}")
        if tok[0] == "op":
            op = tok[1]
        elif tok[0] in _WORD_OPS:
            op = tok[0]
        else:
            raise ConditionError(f"expected an operator after {name} at position {tok[2]}, found {self._show(tok)}")
        value = self.value_list(name) if op == "in" else self.take_value(name)
        if op in ("contains", "like") and not isinstance(value, str):
            raise ConditionError(f"{op} on {name} needs a quoted string")
        if value is None and op not in ("=", "!="):
            raise ConditionError(f"null can only be compared with = or != (field {name})")
        return Compare(tuple(name.split("/")), f"not {op}" if negate else op, value)

    def _operator(self, name: str) -> tuple[str, Any, int]:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"unexpected end of conditions; expected an operator after {name}")
        self.i += 1
        return tok

    def _no_field(self):
        tok = self.peek()
        if tok is None:
            raise ConditionError("unexpected end of conditions; expected a field name")
        raise ConditionError(f"expected a field name at position {tok[2]}, found {self._show(tok)}")

    def take_value(self, name: str) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != "value":
            where = f"position {tok[2]}" if tok else "the end"
            raise ConditionError(f"expected a value for {name} at {where} (strings need double quotes)")
        self.i += 1
        return tok[1]

    def value_list(self, name: str) -> tuple:
        self.take("(")
        values = [self.take_value(name)]
        while (tok := self.peek()) and tok[0] == ",":
            self.i += 1
            values.append(self.take_value(name))
        self.take(")")
        return tuple(values)


def parse(text: str) -> Any:
    """The syntax tree of a condition string; ConditionError names the problem."""
    return _Parser(text).parse()


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
            cache[key] = (tuple(_coerce(record_value, v, path) for v in literal) if base == "in"
                          else _coerce(record_value, literal, path))
        return cache[key]

    def test(record: Record) -> bool:
        raw = resolve(record, path)
        value = _normalise(raw)
        if base in ("contains", "like"):
            if value is None:
                return negate
            text = value if isinstance(value, str) else str(value).casefold()
            hit = literal.casefold() in text if base == "contains" else bool(_like(literal).match(text))
            return hit != negate
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


def compile_conditions(text: str, known_paths: Callable[[tuple[str, ...]], bool] | None = None,
                       resolve: Callable[[Record, tuple[str, ...]], Any] = lookup) -> Predicate:
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
