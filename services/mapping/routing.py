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


def _matches(rule: Rule, record: dict) -> bool:
    if rule.kind == "location":
        return record.get("location_id") is not None and _norm(record["location_id"]) == _norm(rule.value)
    if rule.kind == "member":
        wanted = _norm(rule.value)
        # The invoice's own member, or the company's account manager.
        return (
            wanted in (_norm(record.get("member_identifier")), _norm(record.get("account_manager_identifier")))
            and wanted != ""
        )
    if rule.kind == "tag":
        caption, value = _norm(rule.caption), _norm(rule.value)
        return any(
            _norm(f.get("caption")) == caption and _norm(f.get("value")) == value
            for f in record.get("custom_fields") or []
        )
    return False


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (r.priority, RULE_KINDS.index(r.kind), r.id))


def describe(rule: Rule) -> str:
    if rule.kind == "tag":
        return f"tag {rule.caption}={rule.value} (rule {rule.id})"
    if rule.kind == "default":
        return f"default organisation (rule {rule.id})"
    return f"{rule.kind} {rule.value} (rule {rule.id})"


def route(record: dict, rules: Iterable[Rule], label: str = "record") -> Route:
    """The organisation for `record`; `rules` in any order (they are sorted here)."""
    rules = ordered(rules)
    for rule in rules:
        if rule.kind != "default" and _matches(rule, record):
            return Route(rule.organisation_id, rule, describe(rule))
    for rule in rules:
        if rule.kind == "default":
            return Route(rule.organisation_id, rule, describe(rule))
    facts = record_facts(record)
    carried = ", ".join(f"{k} {v}" for k, v in facts.items()) or "no location, member or tag"
    raise RoutingError(f"no routing rule matches {label} ({carried}) and there is no default organisation", facts)
