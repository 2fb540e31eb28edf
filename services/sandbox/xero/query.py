"""Xero's list query parameters: `where` (a small C#-like expression language),
`order`, `page`/`pageSize`, If-Modified-Since. The parser covers the forms
clients use: comparisons on (dotted) fields against strings, numbers, booleans,
guid("..") and DateTime(y,m,d[,h,m,s]); AND/OR/&&/||; parentheses; and
.Contains/.StartsWith/.EndsWith("..")."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

Predicate = Callable[[dict], bool]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*")|
    (?P<op>==|!=|>=|<=|>|<|&&|\|\||\(|\)|,|!)|
    (?P<num>-?\d+(?:\.\d+)?)|
    (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
)""",
    re.VERBOSE,
)


class QueryError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        # Every alternative of _TOKEN is a named group, so a match names its kind.
        kind = match.lastgroup if match else None
        if match is None or kind is None or match.end() == pos:
            raise QueryError(f"where: cannot parse near '{text[pos : pos + 20]}'")
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def field_value(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return value.lower()
    return value


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def peek_text(self) -> str | None:
        """The text of the next token, None at the end."""
        token = self.peek()
        return None if token is None else token[1]

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1].upper() != expected.upper()):
            raise QueryError(f"where: expected {expected or 'more'} at token {self.i + 1}")
        self.i += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        rest = self.peek_text()
        if rest is not None:
            raise QueryError(f"where: unexpected '{rest}'")
        return predicate

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while (self.peek_text() or "").upper() in ("OR", "||"):
            self.take()
            left = _either(left, self.and_expr())
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while (self.peek_text() or "").upper() in ("AND", "&&"):
            self.take()
            left = _both(left, self.unary())
        return left

    def unary(self) -> Predicate:
        token = self.peek()
        if token and token[1].upper() in ("NOT", "!"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if token and token[1] == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "name":
            raise QueryError(f"where: expected a field name, got '{name}'")
        for method in ("Contains", "StartsWith", "EndsWith", "ToLower", "ToUpper"):
            if name.endswith("." + method):
                path = name[: -len(method) - 1]
                self.take("(")
                if method in ("ToLower", "ToUpper"):
                    self.take(")")
                    return self._compare(path)
                needle = str(self.value()).lower()
                self.take(")")
                test = {"Contains": str.__contains__, "StartsWith": str.startswith, "EndsWith": str.endswith}[method]
                return lambda r: test(str(field_value(r, path) or "").lower(), needle)
        following = self.peek()
        if following is None or following[0] != "op" or following[1] in ("&&", "||", ")"):
            return lambda r: bool(field_value(r, name))  # a bare boolean field
        return self._compare(name)

    def _compare(self, path: str) -> Predicate:
        _, op = self.take()
        if op not in ("==", "!=", ">", "<", ">=", "<="):
            raise QueryError(f"where: unknown operator '{op}'")
        wanted = _comparable(self.value())

        def test(record: dict) -> bool:
            have = _comparable(field_value(record, path))
            if op == "==":
                return have == wanted
            if op == "!=":
                return have != wanted
            if have is None or wanted is None:
                return False
            try:
                return {">": have > wanted, "<": have < wanted, ">=": have >= wanted, "<=": have <= wanted}[op]
            except TypeError:
                return False

        return test

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace('\\"', '"')
        if kind == "num":
            return Decimal(text)
        upper = text.upper()
        if upper in ("TRUE", "FALSE"):
            return upper == "TRUE"
        if upper == "NULL":
            return None
        if upper in ("GUID", "DATETIME", "DATE"):
            self.take("(")
            args = []
            while self.peek_text() not in (None, ")"):
                tok_kind, tok = self.take()
                if tok != ",":
                    args.append(tok[1:-1] if tok_kind == "str" else tok)
            self.take(")")
            if upper == "GUID":
                if len(args) != 1:
                    raise QueryError(f"where: {text}() takes one id in quotes")
                return args[0].lower()
            if len(args) == 1 and not args[0].isdigit():
                return datetime.fromisoformat(args[0])
            parts = [int(a) for a in args]
            if not 3 <= len(parts) <= 7:
                raise QueryError(f"where: {text}() takes a year, month and day, then optionally hour, minute, second")
            year, month, day, hour, minute, second, microsecond = parts + [0] * (7 - len(parts))
            return datetime(year, month, day, hour, minute, second, microsecond)
        raise QueryError(f"where: unexpected value '{text}'")


def where(text: str) -> Predicate:
    return _Parser(_tokens(text)).parse()


def order(records: list[dict], text: str | None, default: str) -> list[dict]:
    """`order=InvoiceNumber DESC, Date` sorts by each key in turn."""
    keys = [part.strip().split() for part in (text or default).split(",") if part.strip()]
    for spec in reversed(keys):
        path, descending = spec[0], len(spec) > 1 and spec[1].upper() == "DESC"
        records.sort(key=lambda r: _sort_key(field_value(r, path)), reverse=descending)
    return records


def _sort_key(value: Any) -> tuple:
    if isinstance(value, datetime):
        return (False, value.timestamp())
    value = _comparable(value)
    return (value is None, "" if value is None else value) if not isinstance(value, (int, Decimal)) else (False, value)


def page(records: list[dict], page_number: int | None, page_size: int | None) -> tuple[list[dict], dict | None]:
    """Without `page` Xero returns every record; with it, pageSize (max 1000, default 100)."""
    if page_number is None:
        return records, None
    size = min(max(page_size or 100, 1), 1000)
    number = max(page_number, 1)
    count = len(records)
    pagination = {"page": number, "pageSize": size, "pageCount": (count + size - 1) // size, "itemCount": count}
    return records[(number - 1) * size : number * size], pagination


def modified_since(records: list[dict], since: datetime | None) -> list[dict]:
    """Records whose UpdatedDateUTC is later than `since`, compared to the second."""
    if since is None:
        return records
    cut = since.replace(microsecond=0)
    return [r for r in records if r["UpdatedDateUTC"].replace(microsecond=0) > cut]
