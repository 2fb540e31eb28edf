"""Which Xero organisation a ConnectWise record belongs to.

Rules are tried in (priority, kind, id) order, lowest priority number first;
the first that matches wins. The `default` rule applies only when no other
rule matched. A record nothing matches raises `RoutingError` naming what the
record carried: routing never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .model import RULE_KINDS, Rule


class RoutingError(Exception):
    """No rule routes the record; the message says what the record carried."""

    def __init__(self, message: str, facts: dict[str, str]):
        super().__init__(message)
        self.facts = facts


@dataclass(frozen=True)
class Route:
    organisation_id: str
    rule: Rule
    reason: str  # e.g. "tag Xero Entity=Holdings (rule 3)"


def _norm(value) -> str:
    return str(value).strip().casefold() if value is not None else ""


def record_facts(record: dict) -> dict[str, str]:
    """What routing looks at, as text: location, members, tags."""
    facts = {}
    if record.get("location_id") is not None:
        facts["location"] = str(record["location_id"])
    for name in ("member_identifier", "account_manager_identifier"):
        if record.get(name):
            facts[name.removesuffix("_identifier")] = str(record[name])
    for field in record.get("custom_fields") or []:
        if field.get("value") not in (None, ""):
            facts[f"tag {field['caption']}"] = str(field["value"])
    return facts


def _rule_key(rule: Rule) -> tuple[str, ...] | None:
    """What a record must carry for `rule` to match it, normalised (None: it matches nothing by
    itself; the default rule, or a member rule with no member)."""
    if rule.kind == "location":
        return ("location", _norm(rule.value))
    if rule.kind == "member":
        return ("member", _norm(rule.value)) if _norm(rule.value) else None
    if rule.kind == "tag":
        return ("tag", _norm(rule.caption), _norm(rule.value))
    return None


def _record_keys(record: dict) -> list[tuple[str, ...]]:
    """Every key a rule could match `record` by: its location, its member or the company's
    account manager, each of its tags."""
    keys: list[tuple[str, ...]] = []
    if record.get("location_id") is not None:
        keys.append(("location", _norm(record["location_id"])))
    for name in ("member_identifier", "account_manager_identifier"):
        keys.append(("member", _norm(record.get(name))))
    for field in record.get("custom_fields") or []:
        keys.append(("tag", _norm(field.get("caption")), _norm(field.get("value"))))
    return keys


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (r.priority, RULE_KINDS.index(r.kind), r.id))


def describe(rule: Rule) -> str:
    if rule.kind == "tag":
        return f"tag {rule.caption}={rule.value} (rule {rule.id})"
    if rule.kind == "default":
        return f"default organisation (rule {rule.id})"
    return f"{rule.kind} {rule.value} (rule {rule.id})"


class Router:
    """Rules made ready for routing many records: put in order and normalised once, then looked up
    by what each record carries (a record is routed in the time of its few facts, not of the rules)."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules = ordered(rules)
        self._first: dict[tuple[str, ...], int] = {}  # a key -> the position of the first rule matching by it
        for position, rule in enumerate(self.rules):
            key = _rule_key(rule)
            if key is not None:
                self._first.setdefault(key, position)
        self._default = next((r for r in self.rules if r.kind == "default"), None)

    def route(self, record: dict, label: str = "record") -> Route:
        """The organisation for `record`: the first rule in order that matches it, else the default."""
        matched = [self._first[key] for key in _record_keys(record) if key in self._first]
        if matched:
            rule = self.rules[min(matched)]
            return Route(rule.organisation_id, rule, describe(rule))
        if self._default is not None:
            return Route(self._default.organisation_id, self._default, describe(self._default))
        facts = record_facts(record)
        carried = ", ".join(f"{k} {v}" for k, v in facts.items()) or "no location, member or tag"
        raise RoutingError(f"no routing rule matches {label} ({carried}) and there is no default organisation", facts)


def route(record: dict, rules: Iterable[Rule], label: str = "record") -> Route:
    """The organisation for `record`; `rules` in any order. (Routing many records with the same
    rules: build one `Router`.)"""
    return Router(rules).route(record, label)
