"""The natural key written to the ledger reads back as the key it was."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.natural_key import NaturalKey
from services.common.record_kinds import RECORD_TYPES, RecordKind

numbers = st.text(min_size=1, max_size=30).filter(lambda s: s.strip())
dates = st.dates().map(lambda d: d.isoformat())


@given(numbers)
def test_a_document_number_round_trips(number):
    assert NaturalKey.parse(str(NaturalKey(number))) == NaturalKey(number)


@given(st.uuids().map(str), numbers, dates)
def test_a_bill_key_round_trips_even_when_its_number_holds_the_separator(contact, number, day):
    key = NaturalKey.bill(contact, number, day)
    assert NaturalKey.parse(str(key)) == key and key.is_bill


@given(numbers, numbers, dates)
def test_a_new_contacts_bill_key_round_trips_whatever_its_name_holds(name, number, day):
    key = NaturalKey.named_bill(name, number, day)
    assert NaturalKey.parse(str(key)) == key and key.is_bill and key.contact_id is None


def test_a_bill_of_a_named_contact_is_not_the_same_key_as_one_of_a_contact_id():
    assert NaturalKey.named_bill("c1", "B-1", "2026-01-01") != NaturalKey.bill("c1", "B-1", "2026-01-01")
    assert NaturalKey.parse("bill-named|A%7CB %25|B-1|2026-01-01").contact_name == "A|B %"


@pytest.mark.parametrize("text", ["", "bill|", "bill|c|n|", "bill||n|2026-01-01", "bill-named||n|2026-01-01"])
def test_a_broken_key_is_refused_naming_the_field(text):
    with pytest.raises(ValueError, match="natural_key"):
        NaturalKey.parse(text)


def test_every_kind_declares_its_topic_and_xero_document():
    for kind in RecordKind:
        assert kind.topic.name and kind.xero.endpoint and kind.xero.id_field and kind.label
    assert RecordKind.PROCUREMENT.xero.number_unique is False and RecordKind.INVOICE.xero.number_unique
    assert RECORD_TYPES == ("invoice", "credit_note", "procurement", "payment", "refund", "xero_payment")
    with pytest.raises(ValueError, match="record_type: 'bill' is not one of"):
        RecordKind.parse("bill")
