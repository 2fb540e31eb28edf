"""Routing precedence: tag over member over location by default, explicit priority
over kind, the default organisation last, and an error (never a guess) otherwise."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.mapping.model import DEFAULT_PRIORITY, Rule
from services.mapping.routing import Router, RoutingError, ordered, route

from .records import invoice, purchase_order


def rule(id, kind, value, org, caption="", priority=None):
    return Rule(id, kind, value, org, DEFAULT_PRIORITY[kind] if priority is None else priority, caption)


HARBOUR = [
    rule(1, "location", "1", "adelaide"),
    rule(2, "location", "2", "sydney"),
    rule(3, "tag", "Holdings", "holdings", caption="Xero Entity"),
    rule(4, "member", "jsmith", "sydney"),
]


def test_location_routes_adelaide_and_sydney():
    assert route(invoice(location_id=1), HARBOUR).organisation_id == "adelaide"
    assert route(invoice(location_id=2), HARBOUR).organisation_id == "sydney"
    assert route(purchase_order(location_id=2), HARBOUR).organisation_id == "sydney"


def test_holding_company_tag_overrides_location_and_member():
    record = invoice(location_id=1, member="jsmith", tags=[("Xero Entity", "Holdings")])
    chosen = route(record, HARBOUR)
    assert chosen.organisation_id == "holdings"
    assert chosen.rule.id == 3 and "tag Xero Entity=Holdings" in chosen.reason


def test_tag_match_ignores_case_and_other_captions():
    assert route(invoice(location_id=1, tags=[("xero entity", "holdings")]), HARBOUR).organisation_id == "holdings"
    # Same value under another caption is not the tag.
    assert route(invoice(location_id=1, tags=[("Region", "Holdings")]), HARBOUR).organisation_id == "adelaide"


def test_member_beats_location_by_default():
    assert route(invoice(location_id=1, member="jsmith"), HARBOUR).organisation_id == "sydney"


def test_account_manager_counts_as_staff_member():
    assert route(invoice(location_id=None, account_manager="JSmith"), HARBOUR).organisation_id == "sydney"


def test_explicit_priority_beats_kind_order():
    rules = [rule(1, "location", "1", "adelaide", priority=10), rule(3, "tag", "Holdings", "holdings", caption="Xero Entity")]
    record = invoice(location_id=1, tags=[("Xero Entity", "Holdings")])
    assert route(record, rules).organisation_id == "adelaide"


def test_equal_priority_uses_kind_order_then_id():
    rules = [rule(5, "location", "1", "adelaide", priority=50), rule(9, "member", "jsmith", "sydney", priority=50)]
    assert route(invoice(location_id=1, member="jsmith"), rules).organisation_id == "sydney"
    rules = [rule(9, "location", "1", "sydney", priority=50), rule(5, "location", "1", "adelaide", priority=50)]
    assert route(invoice(location_id=1), rules).organisation_id == "adelaide"


def test_default_applies_only_when_nothing_matches_even_with_low_priority_number():
    rules = HARBOUR + [rule(10, "default", "", "holdings", priority=0)]
    assert route(invoice(location_id=1), rules).organisation_id == "adelaide"
    chosen = route(invoice(location_id=99), rules)
    assert chosen.organisation_id == "holdings" and chosen.rule.kind == "default"


def test_no_match_and_no_default_is_an_error_naming_what_the_record_carried():
    with pytest.raises(RoutingError) as err:
        route(invoice(location_id=99, member="nobody", tags=[("Xero Entity", "Perth")]), HARBOUR, label="invoice INV-9")
    message = str(err.value)
    assert "invoice INV-9" in message and "location 99" in message and "member nobody" in message
    assert "tag Xero Entity Perth" in message and "no default organisation" in message
    assert err.value.facts["location"] == "99"


def test_record_without_any_routing_facts():
    with pytest.raises(RoutingError, match="no location, member or tag"):
        route(invoice(location_id=None), HARBOUR)


def test_no_rules_at_all():
    with pytest.raises(RoutingError):
        route(invoice(), [])


# ---- the Router's look-up routes every record as trying the rules one by one, in order, would ----


VALUES = st.sampled_from(["1", "2", " 2 ", "JSmith", "jsmith", "", "Holdings", "holdings ", "Perth"])
CAPTIONS = st.sampled_from(["Xero Entity", "xero entity", "Region"])


def _norm(value) -> str:
    return str(value).strip().casefold() if value is not None else ""


def matches_one_by_one(rule: Rule, record: dict) -> bool:
    """The rule semantics written out plainly, rule against record."""
    if rule.kind == "location":
        return record["location_id"] is not None and _norm(record["location_id"]) == _norm(rule.value)
    if rule.kind == "member":
        carried = (_norm(record["member_identifier"]), _norm(record["account_manager_identifier"]))
        return _norm(rule.value) != "" and _norm(rule.value) in carried
    if rule.kind == "tag":
        return any(_norm(f["caption"]) == _norm(rule.caption) and _norm(f["value"]) == _norm(rule.value)
                   for f in record["custom_fields"])
    return False


rules_strategy = st.lists(
    st.tuples(st.sampled_from(["location", "member", "tag", "default"]), VALUES, CAPTIONS,
              st.sampled_from(["adelaide", "sydney", "holdings"]), st.integers(0, 3)),
    max_size=8,
).map(lambda specs: [rule(i + 1, kind, value, org, caption=caption if kind == "tag" else "", priority=p)
                     for i, (kind, value, caption, org, p) in enumerate(specs)])
records_strategy = st.builds(
    lambda location, member, manager, tags: invoice(location_id=location, member=member, account_manager=manager,
                                                    tags=tags),
    st.one_of(st.none(), st.integers(1, 3), VALUES), st.one_of(st.none(), VALUES), st.one_of(st.none(), VALUES),
    st.lists(st.tuples(CAPTIONS, VALUES), max_size=3))


@settings(max_examples=400, deadline=None)
@given(rules_strategy, st.lists(records_strategy, min_size=1, max_size=5))
def test_the_router_chooses_the_first_matching_rule_in_order_else_the_default(rules, records):
    router = Router(rules)
    for record in records:
        in_order = ordered(rules)
        expected = next((r for r in in_order if r.kind != "default" and matches_one_by_one(r, record)),
                        next((r for r in in_order if r.kind == "default"), None))
        if expected is None:
            with pytest.raises(RoutingError):
                router.route(record)
        else:
            chosen = router.route(record)
            assert chosen.rule == expected and chosen.organisation_id == expected.organisation_id
