"""The syntax of ConnectWise `conditions`: tokens and a recursive-descent
parser producing a small tree (Compare, BoolOp, Not). See conditions.py for
the grammar and the evaluator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any


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


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<datetime>\[[^\]]*\])
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
""",
    re.VERBOSE,
)
_WORD_OPS = {"contains", "like", "in"}
_KEYWORDS = {"and", "or", "not", "true", "false", "null"} | _WORD_OPS


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
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
