"""Pure pieces of the matcher: reading an event, and telling which ConnectWise payment
an application left in flight became."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from services.matcher.ports import CwPayment, InFlight
from services.matcher.settle import assign
from services.matcher.xero_money import BadEvent, Source, from_event, from_json, to_json

AT = datetime(2026, 11, 20, tzinfo=timezone.utc)
EVENT = {"organisation_id": "adelaide", "tenant_id": "t", "payment_id": "p1", "invoice_id": "xi", "invoice_number": "INV-1",
         "contact_id": "c", "contact_name": "Acme", "amount": Decimal("10.5000"), "currency": "AUD",
         "payment_date": "2026-11-18", "status": "AUTHORISED", "payment_type": "ACCRECPAYMENT", "reference": None,
         "updated_at": AT, "trigger": "SCHEDULE", "observed_at": AT, "raw": "{}"}


def test_an_event_reads_with_the_defaults_of_its_first_version():
    money = from_event(EVENT)
    assert (money.source, money.amount, money.payment_date, money.pays_an_invoice) == (
        Source.PAYMENT, Decimal("10.50"), date(2026, 11, 18), True)
    assert from_json(to_json(money)) == money


@pytest.mark.parametrize("change, field", [({"amount": Decimal("-1")}, "amount"), ({"payment_id": ""}, "payment_id"),
                                           ({"source": "gift"}, "source"), ({"payment_date": "18/11"}, "payment_date"),
                                           ({"updated_at": None}, "updated_at")])
def test_a_bad_event_names_its_field(change, field):
    with pytest.raises(BadEvent, match=f"^{field}:"):
        from_event({**EVENT, **change})


def row(row_id: int, amount: str, max_before: int = 10, state: str = "applying", cw_payment_id=None) -> InFlight:
    return InFlight(row_id, "o", f"p{row_id}", 1, state, Decimal(amount), date(2026, 11, 18), cw_payment_id, max_before)


def pay(pid: int, amount: str, kind: str = "Payment", on: date = date(2026, 11, 18)) -> CwPayment:
    return CwPayment(pid, kind, Decimal(amount), on)


def test_rows_take_newer_payments_of_their_amount_and_date_in_call_order():
    rows = [row(1, "50"), row(2, "50"), row(3, "20")]
    payments = [pay(9, "50"), pay(11, "50"), pay(12, "50", on=date(2026, 1, 1)), pay(13, "20", kind="Credit Memo"),
                pay(14, "50")]
    settled = assign(rows, payments, claimed={11})
    assert settled.landed == [(1, 14)] and settled.not_landed == [2, 3] and not settled.ambiguous


def test_more_fitting_payments_than_rows_is_left_for_a_person():
    settled = assign([row(1, "50")], [pay(11, "50"), pay(12, "50")], claimed=set())
    assert settled.ambiguous and not settled.landed and not settled.not_landed


def test_a_reversal_is_done_when_its_payment_is_gone_and_repeated_when_not():
    settled = assign([row(1, "5", state="reversing", cw_payment_id=11), row(2, "5", state="reversing", cw_payment_id=12)],
                     [pay(12, "5")], claimed={12})
    assert settled.removed == [1] and [r.row_id for r in settled.remove_again] == [2]
