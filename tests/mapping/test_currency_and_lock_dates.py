"""A document's currency and rate, and its date against the organisation's lock dates."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from services.mapping.currency import EXCHANGE_RATE_FIELD
from services.mapping.model import SyncSettings, XeroFacts
from services.mapping.translate import XeroDocument, translate

from .records import australian_org, invoice, purchase_order


def org(**facts):
    mapped = australian_org()
    mapped.facts = XeroFacts(**{"base_currency": "AUD", **facts})
    return mapped


def problems(result):
    assert isinstance(result, list), result
    return [(p.kind, p.field, p.value) for p in result]


def test_an_invoice_in_the_base_currency_carries_its_code_and_no_rate():
    doc = translate(invoice(currency="AUD", tags=[(EXCHANGE_RATE_FIELD, "1.2")]), org())
    assert doc.element["CurrencyCode"] == "AUD" and "CurrencyRate" not in doc.element


def test_an_invoice_in_another_enabled_currency_carries_the_rate_connectwise_recorded():
    record = invoice(currency="nzd", tags=[(EXCHANGE_RATE_FIELD, "1.0912345678")])
    doc = translate(record, org(currencies=frozenset({"NZD", "USD"})))
    assert isinstance(doc, XeroDocument)
    assert doc.element["CurrencyCode"] == "NZD" and doc.element["CurrencyRate"] == "1.091235"


def test_without_a_recorded_rate_xero_applies_its_own():
    doc = translate(invoice(currency="USD"), org(currencies=frozenset({"USD"})))
    assert doc.element["CurrencyCode"] == "USD" and "CurrencyRate" not in doc.element


def test_a_currency_the_organisation_has_not_enabled_is_an_exception_naming_it():
    result = translate(invoice(currency="USD", tags=[(EXCHANGE_RATE_FIELD, "0.65")]), org(currencies=frozenset({"NZD"})))
    assert problems(result) == [("currency_not_enabled", "currency", "USD")]
    assert "USD is not enabled" in result[0].message and "AUD, NZD" in result[0].message
    assert "Settings > Currencies" in result[0].message


@pytest.mark.parametrize("rate", ["fast", "0", "-1.2"])
def test_a_bad_recorded_rate_names_the_field(rate):
    result = translate(invoice(currency="USD", tags=[(EXCHANGE_RATE_FIELD, rate)]), org(currencies=frozenset({"USD"})))
    assert problems(result) == [("bad_record", f"custom_fields.{EXCHANGE_RATE_FIELD}", rate)]


def test_an_organisation_whose_currencies_are_not_known_yet_takes_the_code_as_before():
    doc = translate(invoice(currency="USD"), australian_org())
    assert doc.element["CurrencyCode"] == "USD"


def test_a_document_dated_on_the_lock_date_is_an_exception_saying_what_to_do():
    # The invoice is dated 2026-11-02.
    result = translate(invoice(), org(period_lock_date=date(2026, 11, 2)))
    assert problems(result) == [("period_locked", "date", "2026-11-02")]
    assert "period lock date 2026-11-02" in result[0].message and "first_open_day" in result[0].message


def test_the_later_of_the_two_lock_dates_counts():
    result = translate(invoice(), org(period_lock_date=date(2026, 10, 1), end_of_year_lock_date=date(2026, 11, 30)))
    assert problems(result) == [("period_locked", "date", "2026-11-02")]
    assert "end-of-year lock date 2026-11-30" in result[0].message


def test_first_open_day_dates_it_after_the_lock_and_keeps_the_connectwise_date_in_the_reference():
    mapped = org(period_lock_date=date(2026, 12, 5))
    mapped.settings = SyncSettings(lock_date_treatment="first_open_day")
    doc = translate(invoice(), mapped)
    assert doc.element["Date"] == "2026-12-06" and doc.element["DueDate"] == "2026-12-06"
    assert doc.element["Reference"] == "CW#1001 (ConnectWise date 2026-11-02)"
    bill = translate(purchase_order(), mapped)
    assert bill.element["Date"] == "2026-12-06" and bill.natural_key.endswith("|2026-12-06")


def test_a_document_after_the_lock_date_is_untouched():
    doc = translate(invoice(), org(period_lock_date=date(2026, 11, 1)))
    assert doc.element["Date"] == "2026-11-02" and doc.element["Reference"] == "CW#1001"
    assert doc.total == D("439.99")
