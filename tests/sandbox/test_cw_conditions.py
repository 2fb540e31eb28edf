"""The conditions language, parsed and evaluated without any I/O."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.sandbox.connectwise.conditions import (
    BoolOp, Compare, ConditionError, Not, compile_conditions, match_custom_fields, parse)

INVOICE = {
    "id": 1042, "invoiceNumber": "INV-10042", "type": "CreditMemo", "total": Decimal("-181.50"),
    "closedFlag": False, "applyToId": None,
    "company": {"id": 250, "identifier": "PE0001", "name": "Pinnacle \"Engineering\" Co"},
    "_info": {"lastUpdated": datetime(2026, 11, 18, 10, 8, tzinfo=timezone.utc)},
}


def matches(text: str, record=INVOICE) -> bool:
    alias = {("lastUpdated",): ("_info", "lastUpdated")}

    def resolve(rec, path):
        from services.sandbox.connectwise.conditions import lookup
        return lookup(rec, alias.get(path, path))
    return compile_conditions(text, resolve=resolve)(record)


def test_and_binds_tighter_than_or():
    tree = parse('id = 1 or id = 2 and type = "x"')
    assert tree == BoolOp("or", Compare(("id",), "=", Decimal(1)),
                          BoolOp("and", Compare(("id",), "=", Decimal(2)), Compare(("type",), "=", "x")))
    # Evaluated the same way: true by the left side alone.
    assert matches('id = 1042 or id = 2 and type = "Standard"')
    assert not matches('(id = 1042 or id = 2) and type = "Standard"')


def test_parentheses_group_and_nest():
    assert matches('((id = 1 or id = 1042) and (type = "CreditMemo"))')
    with pytest.raises(ConditionError, match=r"expected \)"):
        parse('(id = 1 or id = 2')


def test_quoted_strings_with_escapes_and_case_insensitive_equality():
    assert matches(r'company/name = "pinnacle \"engineering\" co"')
    assert matches('company/identifier = "pe0001"')
    with pytest.raises(ConditionError, match="unterminated string"):
        parse('company/name = "Pinnacle')


def test_bracketed_datetimes_compare_as_instants():
    assert matches("lastUpdated > [2026-11-18T10:07:59Z]")
    assert not matches("lastUpdated > [2026-11-18T10:08:00Z]")
    assert matches("_info/lastUpdated >= [2026-11-18T20:38:00+10:30]")  # the same instant in Adelaide
    assert matches("lastUpdated < [2026-11-19]")
    with pytest.raises(ConditionError, match=r"invalid datetime \[yesterday\]"):
        parse("lastUpdated > [yesterday]")


def test_numbers_booleans_and_null():
    assert matches("total < -100 and total >= -181.50")
    assert matches("closedFlag = false and not closedFlag = true")
    assert matches("applyToId = null and company/id != null")
    with pytest.raises(ConditionError, match="null can only be compared"):
        parse("applyToId > null")


def test_in_and_not_in():
    assert matches('type in ("Standard", "creditmemo")')
    assert matches("id not in (1, 2, 3)")
    assert not matches("id in (1, 2, 3)")
    with pytest.raises(ConditionError, match="expected a value"):
        parse("id in ()")


def test_like_with_wildcards_and_contains():
    assert matches('invoiceNumber like "INV-100*"')
    assert matches('company/name like "*engineering*"')
    assert not matches('invoiceNumber like "INV-1"')  # like matches the whole value
    assert matches('invoiceNumber not like "CM-*"')
    assert matches('company/name contains "ENGIN"')
    assert matches('company/name not contains "Dental"')


def test_keywords_ignore_case():
    assert matches('id = 1042 AND type IN ("CreditMemo") Or id = 1 aNd type LIKE "x*"')
    assert isinstance(parse("NOT id = 1"), Not)


@pytest.mark.parametrize("text, problem", [
    ("", "empty"),
    ("id =", "expected a value for id"),
    ("id 1042", "expected an operator|found"),
    ("id = 1042 type = \"x\"", "expected and/or"),
    ("id == 1", "expected a value"),
    ("= 1", "expected a field name"),
    ("id = 1 and", "unexpected end"),
    ("id ~ 1", "unexpected character '~'"),
    ("id not = 1", "'not' must be followed by contains, like or in"),
    ("name like 5", "like on name needs a quoted string"),
    ('name = Pinnacle', "expected a value"),
])
def test_bad_syntax_names_the_problem(text, problem):
    with pytest.raises(ConditionError, match=problem):
        parse(text)


def test_wrong_value_type_is_refused_when_evaluated():
    with pytest.raises(ConditionError, match="lastUpdated needs a datetime in brackets"):
        matches('_info/lastUpdated > 5')
    with pytest.raises(ConditionError, match="closedFlag needs a bool"):
        matches('closedFlag = "yes"')


def test_unknown_field_refused_when_the_resource_knows_its_fields():
    with pytest.raises(ConditionError, match="unknown field colour"):
        compile_conditions("colour = 1", known_paths=lambda path: path in {("id",)})


def test_custom_field_conditions_hold_when_one_field_matches():
    keep = compile_conditions('caption = "Xero Entity" and value = "Holdings"')
    fields = [{"id": 3, "caption": "Region", "value": "Holdings"},
              {"id": 7, "caption": "Xero Entity", "value": "Holdings"}]
    assert match_custom_fields(keep, fields)
    # Caption of one field and value of another do not combine.
    assert not match_custom_fields(keep, [{"caption": "Xero Entity", "value": "Sydney"},
                                          {"caption": "Region", "value": "Holdings"}])
    assert not match_custom_fields(keep, None)
