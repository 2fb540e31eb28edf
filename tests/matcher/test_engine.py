"""The matcher's rules carried out over fakes of its ledger and ConnectWise: every case
of docs/payments.md, and crashes at each step of an application."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.lifecycle import Event
from services.matcher.engine import Matcher
from services.matcher.ports import Unanswered
from services.matcher.xero_money import Source

from .fakes import FakeConnectWise, FakeCustomers, FakeLedger, money


@pytest.fixture
def world():
    ledger = FakeLedger(targets_by_xero_id={"xinv-1": 1, "xinv-2": 2}, numbers={"INV-1": 1, "INV-2": 2, "INV-3": 3})
    cw = FakeConnectWise()
    cw.add(1, "INV-1", "1100.00")
    cw.add(2, "INV-2", "500.00")
    cw.add(3, "INV-3", "80.00", status="Void")
    published = []
    return ledger, cw, Matcher(ledger, cw, FakeCustomers({"stranger"}), published.append), published


def outcome_of(outcomes, payment_id):
    return next(o for o in outcomes if o.money.payment_id == payment_id)


def test_a_full_payment_is_applied_once_however_often_it_arrives(world):
    ledger, cw, matcher, _ = world
    for _ in range(3):
        (outcome,) = matcher.handle([money("p1", "1100.00")])
        assert outcome.event is Event.WRITTEN
    assert cw.balance(1) == 0
    assert [p.amount for p in cw.payments_by_invoice[1]] == [Decimal("1100.00")]
    assert "applied 1,100.00 to ConnectWise invoice INV-1" in outcome.note


def test_partial_and_split_payments_add_up(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "300.00")])
    assert cw.balance(1) == Decimal("800.00")
    outcomes = matcher.handle([money("p2", "500.00"), money("p3", "300.00")])
    assert {o.event for o in outcomes} == {Event.WRITTEN}
    assert cw.balance(1) == 0


def test_a_payment_above_the_balance_changes_nothing_and_raises(world):
    ledger, cw, matcher, published = world
    cw.pay_by_hand(1, "200.00")
    (outcome,) = matcher.handle([money("p1", "1100.00")])
    assert outcome.event is Event.RAISED and outcome.exception.kind == "unmatched_payment"
    assert "above the balance" in outcome.exception.message and cw.balance(1) == Decimal("900.00")
    assert published == [outcome]


def test_overpayment_applies_the_amount_due_and_raises_for_the_excess(world):
    ledger, cw, matcher, published = world
    outcomes = matcher.handle([money("over-1", "50.00", None, source=Source.OVERPAYMENT, invoice_id=None,
                                     payment_type="RECEIVE-OVERPAYMENT", reference="Payment INV-1"),
                               money("p1", "1100.00")])
    assert cw.balance(1) == 0
    over = outcome_of(outcomes, "over-1")
    assert over.event is Event.RAISED and over.exception.kind == "overpayment"
    assert "50.00" in over.exception.message and "INV-1" in over.exception.message
    assert "applied to that invoice: 1,100.00, its balance now 0.00" in over.exception.message
    assert [p.amount for p in cw.payments_by_invoice[1]] == [Decimal("1100.00")]
    # once allocated or refunded in Xero, nothing is left over and the exception resolves
    matcher.handle([money("over-1", "0.00", None, source=Source.OVERPAYMENT, invoice_id=None, version=1,
                          payment_type="RECEIVE-OVERPAYMENT", reference="Payment INV-1", status="PAID")])
    assert ("adelaide", "over-1") not in ledger.open_exceptions


def test_an_overpayment_allocated_to_another_invoice_is_applied_there(world):
    ledger, cw, matcher, _ = world
    (outcome,) = matcher.handle([money("alloc-1", "40.00", "INV-2", source=Source.ALLOCATION, invoice_id="xinv-2",
                                       payment_type="AROVERPAYMENT")])
    assert outcome.event is Event.WRITTEN and cw.balance(2) == Decimal("460.00")


def test_a_deleted_payment_is_reversed_and_a_late_copy_of_it_changes_nothing(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "400.00")])
    (outcome,) = matcher.handle([money("p1", "400.00", status="DELETED", version=1)])
    assert outcome.event is Event.WRITTEN and "reversed 400.00" in outcome.note
    assert cw.balance(1) == Decimal("1100.00") and cw.payments_by_invoice[1] == []
    assert matcher.handle([money("p1", "400.00", version=0)]) == []  # a redelivered older version
    assert cw.balance(1) == Decimal("1100.00")


def test_a_payment_deleted_before_it_was_applied_is_skipped(world):
    ledger, cw, matcher, _ = world
    (outcome,) = matcher.handle([money("p1", "400.00", status="DELETED")])
    assert outcome.event is Event.SKIPPED and "before anything was applied" in outcome.note
    assert cw.payments_by_invoice[1] == [] and ledger.rows == []


def test_a_moved_payment_is_a_reversal_plus_a_new_application(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "400.00")])
    (outcome,) = matcher.handle([money("p1", "400.00", "INV-2", invoice_id="xinv-2", version=1)])
    assert outcome.event is Event.WRITTEN and "moved" in outcome.note
    assert cw.balance(1) == Decimal("1100.00") and cw.balance(2) == Decimal("100.00")
    states = [r.state for r in ledger.rows]
    assert states == ["reversed", "applied"]  # the reversed application stays known (no echo of it)


def test_unmatchable_payments_name_why_and_resolve_when_fixed_in_xero(world):
    ledger, cw, matcher, _ = world
    cases = {"no-such": money("no-such", "10.00", "XR-9001", invoice_id="xr"),
             "void": money("void", "10.00", "INV-3", invoice_id="xinv-3"),
             "stranger": money("stranger", "10.00", contact_id="stranger")}
    outcomes = matcher.handle(list(cases.values()))
    why = {o.money.payment_id: o.exception.message for o in outcomes}
    assert "no invoice numbered XR-9001" in why["no-such"]
    assert "void" in why["void"]
    assert "is not ConnectWise company ACME" in why["stranger"]
    assert cw.balance(1) == Decimal("1100.00") and set(ledger.open_exceptions) == {("adelaide", k) for k in cases}
    (fixed,) = matcher.handle([money("no-such", "10.00", "INV-2", invoice_id="xinv-2", version=1)])
    assert fixed.event is Event.WRITTEN and ("adelaide", "no-such") not in ledger.open_exceptions


@pytest.mark.parametrize("invoice, found, why", [
    (dict(number="INV-4", balance="300.00", status="Closed"), "ledger", "ConnectWise invoice INV-4 is closed"),
    (dict(number="CM-5", balance="-50.00", kind="CreditMemo"), "number", "ConnectWise CM-5 is a credit memo"),
])
def test_a_payment_on_a_closed_invoice_or_a_credit_memo_is_unmatched_and_changes_nothing(world, invoice, found, why):
    ledger, cw, matcher, published = world
    number, balance = invoice.pop("number"), Decimal(invoice.pop("balance"))
    cw.add(4, number, str(balance), **invoice)
    if found == "ledger":  # the Xero invoice this product wrote for it
        ledger.targets_by_xero_id["xinv-4"] = 4
    else:  # a number ingest has read
        ledger.numbers[number] = 4
    (outcome,) = matcher.handle([money("p4", "10.00", number, invoice_id="xinv-4")])
    assert outcome.event is Event.RAISED and outcome.exception.kind == "unmatched_payment"
    assert why in outcome.exception.message and why in outcome.note and published == [outcome]
    assert cw.payments_by_invoice[4] == [] and cw.balance(4) == balance
    assert ledger.rows == [] and ledger.open_exceptions == {("adelaide", "p4"): "unmatched_payment"}


def test_our_own_payments_are_never_applied_back(world):
    ledger, cw, matcher, _ = world
    ledger.echo_of["echo-1"] = "ConnectWise payment 77"
    (outcome,) = matcher.handle([money("echo-1", "100.00")])
    assert outcome.event is Event.SKIPPED and "no echo" in outcome.note and cw.payments_by_invoice[1] == []


def test_payments_of_other_kinds_concern_no_connectwise_invoice(world):
    ledger, cw, matcher, _ = world
    (outcome,) = matcher.handle([money("bill", "100.00", payment_type="ACCPAYPAYMENT")])
    assert outcome.event is Event.SKIPPED and cw.payments_by_invoice[1] == []


def test_a_reversal_lets_a_payment_left_unmatched_for_want_of_balance_apply(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "1100.00", version=0)])
    (blocked,) = matcher.handle([money("p2", "1100.00", version=2)])  # entered before the delete was seen
    assert blocked.event is Event.RAISED
    outcomes = matcher.handle([money("p1", "1100.00", status="DELETED", version=1)])
    assert {o.money.payment_id: o.event for o in outcomes} == {"p1": Event.WRITTEN, "p2": Event.WRITTEN}
    assert cw.balance(1) == 0 and [p.amount for p in cw.payments_by_invoice[1]] == [Decimal("1100.00")]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_lost_answer_is_settled_from_connectwise_before_anything_is_tried_again(world, when):
    ledger, cw, matcher, _ = world
    cw.crash = when
    with pytest.raises(Unanswered):
        matcher.handle([money("p1", "300.00"), money("p2", "200.00")])
    assert [r.state for r in ledger.rows] == ["applying", "applying"]
    matcher.handle([money("p1", "300.00"), money("p2", "200.00")])  # the batch delivered again
    assert sorted(p.amount for p in cw.payments_by_invoice[1]) == [Decimal("200.00"), Decimal("300.00")]
    assert cw.balance(1) == Decimal("600.00") and {r.state for r in ledger.rows} == {"applied"}


def test_recovery_at_start_up_settles_reversals_left_in_flight(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "300.00")])
    cw.crash = "after"
    with pytest.raises(Unanswered):
        matcher.handle([money("p1", "300.00", status="DELETED", version=1)])
    assert [r.state for r in ledger.rows] == ["reversing"]
    assert matcher.recover() == 1
    assert [r.state for r in ledger.rows] == ["reversed"] and cw.balance(1) == Decimal("1100.00")


def test_two_matching_payments_entered_meanwhile_are_left_for_a_person(world):
    ledger, cw, matcher, published = world
    cw.crash = "after"
    with pytest.raises(Unanswered):
        matcher.handle([money("p1", "300.00")])
    cw.pay_by_hand(1, "300.00")  # someone enters the same money in ConnectWise meanwhile
    (outcome,) = matcher.handle([money("p1", "300.00")])
    assert outcome.event is Event.HELD and outcome.exception.kind == "application_unsettled"
    assert [r.state for r in ledger.rows] == ["applying"] and cw.balance(1) == Decimal("500.00")


def test_a_reversal_settled_at_start_up_lets_a_payment_waiting_for_balance_apply(world):
    ledger, cw, matcher, _ = world
    matcher.handle([money("p1", "1100.00", version=0)])
    cw.crash = "before"
    with pytest.raises(Unanswered):
        matcher.handle([money("p1", "1100.00", status="DELETED", version=1)])
    (blocked,) = matcher.handle([money("p2", "1100.00", version=2)])  # p1 still applied in ConnectWise
    assert blocked.event is Event.RAISED
    assert matcher.recover() == 1
    assert ledger.outcomes[("adelaide", "p2")].event is Event.WRITTEN
    assert [p.amount for p in cw.payments_by_invoice[1]] == [Decimal("1100.00")] and cw.balance(1) == 0
    (deletion,) = matcher.handle([money("p1", "1100.00", status="DELETED", version=1)])  # delivered again
    assert deletion.event is Event.WRITTEN and "reversed" in deletion.note
