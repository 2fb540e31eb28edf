"""In-memory fakes of the matcher's ports (its ledger, ConnectWise, the customer check),
behaving as the real adapters do, so the engine's rules can be run over any sequence."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.common.lifecycle import Event
from services.matcher.match import Applied, CwInvoice
from services.matcher.ports import CwPayment, InFlight, Key, Outcome, PaymentState, Refused, Unanswered
from services.matcher.xero_money import Source, XeroMoney

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
ORG = "adelaide"


def money(payment_id: str, amount: str | Decimal, invoice_number: str = "INV-1", *, status: str = "AUTHORISED",
          version: int = 0, source: Source = Source.PAYMENT, payment_type: str = "ACCRECPAYMENT",
          invoice_id: str | None = "xinv-1", contact_id: str = "contact-1", reference: str | None = None,
          org: str = ORG) -> XeroMoney:
    at = T0 + timedelta(minutes=version)
    return XeroMoney(org, payment_id, source, payment_type, status, Decimal(amount), invoice_id, invoice_number,
                     contact_id, "Acme", reference, date(2026, 11, 18), at, at + timedelta(seconds=5))


@dataclass
class Row:
    row_id: int
    key: Key
    cw_invoice_id: int
    amount: Decimal
    state: str
    payment_date: date | None
    max_before: int
    cw_payment_id: int | None = None


@dataclass
class FakeLedger:
    """The ledger port over dicts. `targets_by_xero_id` stands for the writer's ledger,
    `numbers` for the invoice numbers ingest has seen."""

    targets_by_xero_id: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    echo_of: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    versions: dict[Key, datetime] = field(default_factory=dict)
    outcomes: dict[Key, Outcome] = field(default_factory=dict)
    open_exceptions: dict[Key, str] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def states(self, keys):
        found = {}
        for key in keys:
            state = PaymentState(self.versions.get(key))
            for row in self.rows:
                if row.key != key:
                    continue
                if row.state == "reversed":
                    state.reversed = True
                elif row.state == "applied":
                    state.live = Applied(row.row_id, row.cw_invoice_id, row.cw_payment_id, row.amount)
                elif row.state in ("applying", "reversing"):
                    state.in_flight.append(self._in_flight(row))
            found[key] = state
        return found

    def _in_flight(self, row: Row) -> InFlight:
        return InFlight(row.row_id, row.key[0], row.key[1], row.cw_invoice_id, row.state, row.amount,
                        row.payment_date, row.cw_payment_id, row.max_before)

    def echoes(self, moneys):
        return {m.key: self.echo_of[m.payment_id] for m in moneys if m.payment_id in self.echo_of}

    def targets(self, wanted):
        found = {}
        for key, (xero_invoice_id, numbers) in wanted.items():
            if xero_invoice_id in self.targets_by_xero_id:
                found[key] = (self.targets_by_xero_id[xero_invoice_id], "ledger")
            else:
                hit = next((self.numbers[n] for n in numbers if n in self.numbers), None)
                if hit is not None:
                    found[key] = (hit, "number")
        return found

    def applied_on(self, ids):
        totals = {}
        for row in self.rows:
            if row.state == "applied" and row.cw_invoice_id in ids:
                totals[row.cw_invoice_id] = totals.get(row.cw_invoice_id, Decimal(0)) + row.amount
        return totals

    def claimed(self, cw_payment_ids):
        return {r.cw_payment_id for r in self.rows if r.cw_payment_id in set(cw_payment_ids)}

    def live_rows(self, key: Key) -> list[Row]:
        return [r for r in self.rows if r.key == key and r.state != "reversed"]

    def intend(self, intents):
        ids = []
        for m, invoice_id, amount, highest in intents:
            assert not self.live_rows(m.key), f"second live application of {m.key}"
            row = Row(next(self.ids), m.key, invoice_id, amount, "applying", m.payment_date, highest)
            self.rows.append(row)
            ids.append(row.row_id)
        return ids

    def _row(self, row_id: int) -> Row:
        return next(r for r in self.rows if r.row_id == row_id)

    def applied(self, done):
        for row_id, cw_payment_id in done:
            row = self._row(row_id)
            row.state, row.cw_payment_id = "applied", cw_payment_id

    def forget(self, row_ids):
        self.rows = [r for r in self.rows if r.row_id not in set(row_ids)]

    def reversing(self, row_ids):
        for row_id in row_ids:
            self._row(row_id).state = "reversing"

    def reversed(self, row_ids):
        for row_id in row_ids:
            self._row(row_id).state = "reversed"

    def in_flight(self):
        return [self._in_flight(r) for r in self.rows if r.state in ("applying", "reversing")]

    def record(self, outcomes):
        for o in outcomes:
            self.versions[o.money.key] = max(o.money.updated_at, self.versions.get(o.money.key, o.money.updated_at))
            self.outcomes[o.money.key] = o
            if o.exception is not None:
                self.open_exceptions[o.money.key] = o.exception.kind
            elif o.settles:
                self.open_exceptions.pop(o.money.key, None)

    def waiting_on(self, ids):
        return [o.money for o in self.outcomes.values() if o.event is Event.RAISED and o.target is not None
                and o.target.id in ids and o.exception and o.exception.kind == "unmatched_payment"]


@dataclass
class FakeConnectWise:
    """Invoices with payments; `crash` makes the next apply or remove act, then lose its answer."""

    invoices_by_id: dict[int, CwInvoice] = field(default_factory=dict)
    payments_by_invoice: dict[int, list[CwPayment]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    calls: int = 0
    crash: str | None = None  # "after" (the call happened) or "before" (it did not)

    def add(self, invoice_id: int, number: str, balance: str, **kw) -> CwInvoice:
        self.invoices_by_id[invoice_id] = CwInvoice(invoice_id, number, Decimal(balance), company_identifier="ACME",
                                                    company_name="Acme", **kw)
        self.payments_by_invoice.setdefault(invoice_id, [])
        return self.invoices_by_id[invoice_id]

    def balance(self, invoice_id: int) -> Decimal:
        return self.invoices_by_id[invoice_id].balance

    def invoices(self, ids):
        self.calls += 1
        return {i: self.invoices_by_id[i] for i in ids if i in self.invoices_by_id}

    def by_number(self, number):
        self.calls += 1
        return next((i for i in self.invoices_by_id.values() if i.number == number), None)

    def payments(self, invoice_id):
        self.calls += 1
        return list(self.payments_by_invoice.get(invoice_id, []))

    def _lose_answer(self) -> bool:
        crash, self.crash = self.crash, None
        if crash == "before":
            raise Unanswered("connection refused")
        return crash == "after"

    def apply(self, invoice_id, amount, paid_on, tags):
        self.calls += 1
        lost = self._lose_answer()
        invoice = self.invoices_by_id[invoice_id]
        if invoice.closed_because or amount > invoice.balance:
            raise Refused(f"amount: payment amount {amount} exceeds the invoice balance {invoice.balance}")
        payment = CwPayment(next(self.ids), "Payment", amount, paid_on)
        self.payments_by_invoice[invoice_id].append(payment)
        self.invoices_by_id[invoice_id] = replace(invoice, balance=invoice.balance - amount)
        if lost:
            raise Unanswered("answer lost")
        return payment.id

    def remove(self, invoice_id, cw_payment_id, tags):
        self.calls += 1
        lost = self._lose_answer()
        kept = [p for p in self.payments_by_invoice[invoice_id] if p.id != cw_payment_id]
        gone = [p for p in self.payments_by_invoice[invoice_id] if p.id == cw_payment_id]
        self.payments_by_invoice[invoice_id] = kept
        invoice = self.invoices_by_id[invoice_id]
        self.invoices_by_id[invoice_id] = replace(invoice, balance=invoice.balance + sum(p.amount for p in gone))
        if lost:
            raise Unanswered("answer lost")

    def pay_by_hand(self, invoice_id: int, amount: str, paid_on: date | None = date(2026, 11, 18)) -> None:
        """Someone enters a payment in ConnectWise directly."""
        payment = CwPayment(next(self.ids), "Payment", Decimal(amount), paid_on)
        self.payments_by_invoice[invoice_id].append(payment)
        invoice = self.invoices_by_id[invoice_id]
        self.invoices_by_id[invoice_id] = replace(invoice, balance=invoice.balance - Decimal(amount))


@dataclass
class FakeCustomers:
    """The payment's contact is the invoice's customer unless listed as someone else's."""

    strangers: set[str] = field(default_factory=set)

    def differs(self, m, invoice, through_ledger):
        if m.contact_id in self.strangers:
            return f"the Xero contact {m.contact_name} is not ConnectWise company {invoice.company_identifier}"
        return None
