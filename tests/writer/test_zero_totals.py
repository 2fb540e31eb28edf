"""A ConnectWise invoice of nothing, through the mapper and the writer into the Xero simulator, in an
organisation that approves invoices on creation: Xero marks an approved document of nothing paid at
once and then refuses every change, so it is written as a draft, and every later edit in ConnectWise
(still nothing, or an amount at last) is written without a failed write. An approved invoice that
ConnectWise brings to nothing is refused before it is sent, so it never becomes an unchangeable
paid invoice."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.writer.mapped import mapped, record  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def test_a_zero_total_invoice_is_a_draft_until_connectwise_gives_it_an_amount(mapped):  # noqa: F811
    m = mapped
    first = m.sync(record("INV-Z1", 501, ["0.00"]))
    assert [r["outcome"] for r in first.results] == ["CREATED"] and not first.exceptions + first.mapper_exceptions
    held = m.invoice("INV-Z1")
    assert (held["Status"], held["Total"]) == ("DRAFT", Decimal("0.00"))  # not PAID: it can still change
    xero_id = held["InvoiceID"]

    # Edited while still nothing (its description): written to the same draft.
    still_zero = m.sync(record("INV-Z1", 501, ["0.00"], edit=" (November)"))
    assert [r["outcome"] for r in still_zero.results] == ["UPDATED"] and not still_zero.exceptions
    held = m.invoice("INV-Z1")
    assert (held["InvoiceID"], held["Status"], held["Total"]) == (xero_id, "DRAFT", Decimal("0.00"))
    assert held["LineItems"][0]["Description"] == "Managed services (November)"

    # Edited to an amount: approved as the organisation approves on creation, and owed, not paid.
    priced = m.sync(record("INV-Z1", 501, ["0.00", "250.00"], edit=" (November)"))
    assert [r["outcome"] for r in priced.results] == ["UPDATED"] and not priced.exceptions
    held = m.invoice("INV-Z1")
    assert (held["InvoiceID"], held["Status"]) == (xero_id, "AUTHORISED")
    assert (held["Total"], held["AmountDue"], held["AmountPaid"]) == (Decimal("275.00"), Decimal("275.00"),
                                                                       Decimal("0.00"))

    # And any later edit is written like any other approved invoice's.
    again = m.sync(record("INV-Z1", 501, ["0.00", "300.00"], edit=" (November)"))
    assert [r["outcome"] for r in again.results] == ["UPDATED"] and not again.exceptions
    assert m.invoice("INV-Z1")["Total"] == Decimal("330.00")
    assert m.status(501)[0] == "synced"
    assert not [r for r in m.recorder.records if r["status"] >= 400]  # not one refused call


def test_an_approved_invoice_connectwise_brings_to_nothing_is_not_written_so_it_stays_changeable(mapped):  # noqa: F811
    m = mapped
    assert [r["outcome"] for r in m.sync(record("INV-Z2", 502, ["100.00"])).results] == ["CREATED"]
    assert m.invoice("INV-Z2")["Status"] == "AUTHORISED"
    writes = len(m.writes())

    # Written, Xero would mark it paid and refuse every edit after: refused before any call, saying why.
    emptied = m.sync(record("INV-Z2", 502, ["0.00"], edit=" (credited)"))
    assert [r["outcome"] for r in emptied.results] == ["REJECTED"] and len(m.writes()) == writes
    [refused] = emptied.exceptions
    assert refused["kind"] == "xero_status_rule" and "ConnectWise now totals 0.00" in refused["message"]
    assert "void it in Xero" in refused["message"]
    held = m.invoice("INV-Z2")
    assert (held["Status"], held["Total"]) == ("AUTHORISED", Decimal("110.00"))
    assert m.status(502)[0] == "exception"

    # Given an amount again in ConnectWise, it is written to the same invoice.
    priced = m.sync(record("INV-Z2", 502, ["80.00"], edit=" (re-billed)"))
    assert [r["outcome"] for r in priced.results] == ["UPDATED"] and not priced.exceptions
    held = m.invoice("INV-Z2")
    assert (held["Status"], held["Total"], held["AmountDue"]) == ("AUTHORISED", Decimal("88.00"), Decimal("88.00"))
    assert m.status(502)[0] == "synced"
