"""The matching rules over any history of one invoice (Hypothesis): payments, partial
and split, overpayments, deletions, payments from a contact that is not the customer,
replays of old events, deliveries in any order and lost ConnectWise answers. Once
every event has been delivered, the ConnectWise balance equals the Xero amount due,
or an open exception on one of its payments says why; and nothing is ever applied
twice or below a zero balance."""
from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from services.common.lifecycle import Event
from services.matcher.engine import Matcher
from services.matcher.ports import Unanswered
from services.matcher.xero_money import Source

from .fakes import FakeConnectWise, FakeCustomers, FakeLedger, money

CENT = Decimal("0.01")

operations = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 100), st.booleans()),  # percent of the amount due, from a stranger?
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("overpay"), st.integers(1, 5000)),  # cents beyond the amount due
    st.tuples(st.just("deliver"), st.integers(1, 4), st.integers(0, 2 ** 16)),  # how many, in which order
    st.tuples(st.just("replay"), st.integers(0, 40)),
    st.tuples(st.just("crash"), st.sampled_from(["before", "after"])),
), max_size=30)


class XeroInvoice:
    """Xero's side: payments never above the amount due; money beyond it is an overpayment."""

    def __init__(self, total: Decimal):
        self.total = total
        self.payments: dict[str, dict] = {}  # id -> {amount, status, stranger}
        self.emitted: list = []  # every event ingest emitted, in order
        self.clock = 0

    @property
    def due(self) -> Decimal:
        return self.total - sum((p["amount"] for p in self.payments.values()
                                 if p["status"] == "AUTHORISED" and p["kind"] == "payment"), Decimal(0))

    def emit(self, pid: str) -> None:
        self.clock += 1
        p = self.payments[pid]
        if p["kind"] == "payment":
            event = money(pid, p["amount"], status=p["status"], version=self.clock,
                          contact_id="stranger" if p["stranger"] else "contact-1")
        else:
            event = money(pid, p["amount"], None, source=Source.OVERPAYMENT, invoice_id=None, version=self.clock,
                          payment_type="RECEIVE-OVERPAYMENT", reference="INV-1")
        self.emitted.append(event)

    def pay(self, amount: Decimal, stranger: bool = False, kind: str = "payment") -> None:
        pid = f"{kind[0]}{len(self.payments)}"
        self.payments[pid] = {"amount": amount, "status": "AUTHORISED", "stranger": stranger, "kind": kind}
        self.emit(pid)


def deliver(matcher: Matcher, batch: list, pending: list) -> None:
    try:
        matcher.handle(batch)
    except Unanswered:
        pending[:0] = batch  # offsets not committed: Kafka delivers the batch again


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(total_cents=st.integers(100, 500_000), ops=operations)
def test_connectwise_balance_follows_xero_or_an_exception_says_why(total_cents, ops):
    total = Decimal(total_cents) / 100
    xero = XeroInvoice(total)
    ledger = FakeLedger(targets_by_xero_id={"xinv-1": 1}, numbers={"INV-1": 1})
    cw = FakeConnectWise()
    cw.add(1, "INV-1", str(total))
    matcher = Matcher(ledger, cw, FakeCustomers({"stranger"}))
    pending: list = []
    delivered = 0
    for op in ops:
        if op[0] == "pay" and xero.due > 0:
            xero.pay(max(CENT, (xero.due * op[1] / 100).quantize(CENT)), stranger=op[2])
        elif op[0] == "delete":
            live = [pid for pid, p in xero.payments.items() if p["status"] == "AUTHORISED" and p["kind"] == "payment"]
            if live:
                pid = live[op[1] % len(live)]
                xero.payments[pid]["status"] = "DELETED"
                xero.emit(pid)
        elif op[0] == "overpay" and xero.due > 0:
            xero.pay(xero.due)
            xero.pay(Decimal(op[1]) / 100, kind="overpayment")
        elif op[0] == "replay" and xero.emitted:
            pending.append(xero.emitted[op[1] % len(xero.emitted)])
        elif op[0] == "crash":
            cw.crash = op[1]
        elif op[0] == "deliver":
            pending += xero.emitted[delivered:]
            delivered = len(xero.emitted)
            random.Random(op[2]).shuffle(pending)
            batch, pending[:] = pending[:op[1]], pending[op[1]:]
            deliver(matcher, batch, pending)
        assert cw.balance(1) >= 0
    pending += xero.emitted[delivered:]
    cw.crash = None
    while pending:
        batch, pending[:] = pending[:3], pending[3:]
        deliver(matcher, batch, pending)

    # Nothing applied twice: one ConnectWise payment per live application, each of a live Xero payment.
    applied = [r for r in ledger.rows if r.state == "applied"]
    assert sorted(p.id for p in cw.payments_by_invoice[1]) == sorted(r.cw_payment_id for r in applied)
    assert all(xero.payments[r.key[1]]["status"] == "AUTHORISED" for r in applied)
    assert not [r for r in ledger.rows if r.state in ("applying", "reversing")]
    if cw.balance(1) != xero.due:
        unmatched = [k for k, kind in ledger.open_exceptions.items() if kind == "unmatched_payment"
                     and xero.payments[k[1]]["status"] == "AUTHORISED"]
        assert unmatched, (cw.balance(1), xero.due, ledger.outcomes)
        explained = sum((xero.payments[k[1]]["amount"] for k in unmatched), Decimal(0))
        assert cw.balance(1) - xero.due == explained
        for key in unmatched:  # and what it says is still true
            p = xero.payments[key[1]]
            assert p["stranger"] or p["amount"] > cw.balance(1), (key, p, ledger.outcomes[key].note)
    for key, outcome in ledger.outcomes.items():  # every overpayment with credit left says so
        p = xero.payments[key[1]]
        if p["kind"] == "overpayment":
            assert outcome.event is Event.RAISED and ledger.open_exceptions.get(key) == "overpayment"
