"""A ConnectWise invoice dated inside its Xero organisation's lock, through the mapper and the writer
into the Xero simulator, whose lock dates are set as an accountant sets them and read with the
catalog: by the organisation's lock_date_treatment, an exception saying what to do and nothing sent,
or the invoice dated on the first open day with its ConnectWise date in the reference. A lock moved
after the catalog was read reaches Xero, which refuses it, and is raised the same way."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.writer.mapped import mapped, record  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration

# The invoices are dated 2026-11-02. Each case: the locks set in Xero, the one that counts (the later),
# and the first day it leaves open.
LOCKS = {
    "period": ({"period_lock_date": "2026-11-15"}, "period lock date 2026-11-15", date(2026, 11, 16)),
    "end_of_year": ({"period_lock_date": "2026-10-31", "end_of_year_lock_date": "2026-11-20"},
                    "end-of-year lock date 2026-11-20", date(2026, 11, 21)),
}


@pytest.mark.parametrize("lock", LOCKS)
def test_by_default_a_document_inside_the_lock_is_an_exception_saying_what_to_do_and_nothing_reaches_xero(
        mapped, lock):  # noqa: F811
    m = mapped
    locks, named, _ = LOCKS[lock]
    m.books(**locks)
    m.refresh_catalog()
    synced = m.sync(record("INV-L1", 601, ["100.00"]))

    [raised] = synced.mapper_exceptions
    assert raised["kind"] == "period_locked" and raised["organisation_id"] == "adelaide"
    assert f"dated 2026-11-02, on or before the {named}" in raised["message"]
    assert "ask the accountant to move the lock date in Xero" in raised["message"]
    assert "set the organisation's lock_date_treatment to first_open_day" in raised["message"]
    assert not synced.results and not m.writes()  # never sent only to be refused
    assert not [d for d in m.sim.org("adelaide").invoices.values() if d.get("InvoiceNumber") == "INV-L1"]
    assert m.status(601)[0] == "exception"


@pytest.mark.parametrize("lock", LOCKS)
def test_first_open_day_dates_it_after_the_lock_and_keeps_the_connectwise_date_in_the_reference(
        mapped, lock):  # noqa: F811
    m = mapped
    locks, _, first_open = LOCKS[lock]
    m.books(**locks)
    m.refresh_catalog()
    m.sync_settings(lock_date_treatment="first_open_day")
    synced = m.sync(record("INV-L2", 602, ["100.00"]))

    assert [r["outcome"] for r in synced.results] == ["CREATED"] and not synced.exceptions + synced.mapper_exceptions
    held = m.invoice("INV-L2")
    assert (held["Date"], held["DueDate"]) == (first_open, date(2026, 12, 2))
    assert held["Reference"] == "CW#602 (ConnectWise date 2026-11-02)"
    assert (held["Status"], held["Total"]) == ("AUTHORISED", Decimal("110.00"))
    assert m.status(602)[0] == "synced"

    # A later edit in ConnectWise keeps it out of the locked period.
    edited = m.sync(record("INV-L2", 602, ["120.00"], edit=" (revised)"))
    assert [r["outcome"] for r in edited.results] == ["UPDATED"] and not edited.exceptions
    held = m.invoice("INV-L2")
    assert (held["Date"], held["Total"]) == (first_open, Decimal("132.00"))
    assert held["Reference"] == "CW#602 (ConnectWise date 2026-11-02)"


def test_a_lock_moved_after_the_catalog_was_read_is_refused_by_xero_raised_with_advice_then_applied(
        mapped):  # noqa: F811
    m = mapped
    m.sync_settings(lock_date_treatment="first_open_day")
    m.books(period_lock_date="2026-11-30")  # the accountant closes November; the catalog does not know yet
    synced = m.sync(record("INV-L3", 603, ["100.00"]))

    assert len(m.writes()) == 1  # sent with its own date, since the lock read with the catalog allowed it
    assert [r["outcome"] for r in synced.results] == ["REJECTED"]
    [raised] = synced.exceptions
    assert raised["kind"] == "period_locked"
    assert "The document date cannot be before the period lock date, currently set at 30-Nov-2026" in (
        raised["message"])
    assert "refresh its catalog so the organisation's lock_date_treatment applies, then force-sync it" in (
        raised["message"])
    assert not [d for d in m.sim.org("adelaide").invoices.values() if d.get("InvoiceNumber") == "INV-L3"]
    assert m.status(603)[0] == "exception"

    # What the advice says: the catalog refreshed, the record force-synced.
    m.refresh_catalog()
    again = m.sync(record("INV-L3", 603, ["100.00"]))
    assert [r["outcome"] for r in again.results] == ["CREATED"]
    held = m.invoice("INV-L3")
    assert (held["Date"], held["DueDate"]) == (date(2026, 12, 1), date(2026, 12, 2))
    assert held["Reference"] == "CW#603 (ConnectWise date 2026-11-02)"
    assert m.status(603)[0] == "synced"
