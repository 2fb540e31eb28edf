"""The matcher's unit of work: a batch of Xero payments decided and carried out
in ConnectWise, exactly once, whatever crashes in between.

Order of effects for an application: the intent ('applying', with the invoice,
amount and the highest ConnectWise payment id there) is committed BEFORE the
POST; the ConnectWise payment id and 'applied' after. A reversal is marked
'reversing' before the DELETE and 'reversed' after. Statuses, versions and
resolved exceptions are stored last; exceptions are published after that, and
the caller commits Kafka offsets only then. Anything left in flight by a crash
is settled from ConnectWise's own list of the invoice's payments before that
payment (or invoice) is touched again.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from decimal import Decimal
from typing import Callable

from ..common.lifecycle import Event
from .match import UNMATCHED, Apply, CwInvoice, Decision, Facts, Raise, Reverse, Target, decide, effect_on_balance
from .ports import ConnectWise, Customers, Key, Ledger, Outcome, PaymentState, Refused
from .settle import settle
from .xero_money import Source, XeroMoney

log = logging.getLogger(__name__)
UNSETTLED = "application_unsettled"
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/_.]*[A-Za-z0-9]")


def newest(moneys: list[XeroMoney]) -> list[XeroMoney]:
    """One version per payment, the newest; the batch in Xero's order of change (a deletion
    before the payment entered in its place), overpayments last, so what each says was applied
    to its invoice includes the payments that came with it."""
    kept: dict[Key, XeroMoney] = {}
    for money in moneys:
        held = kept.get(money.key)
        if held is None or (money.updated_at, money.observed_at) >= (held.updated_at, held.observed_at):
            kept[money.key] = money
    return sorted(kept.values(), key=lambda m: (m.source is Source.OVERPAYMENT, m.updated_at, m.payment_id))


def numbers_named(money: XeroMoney) -> list[str]:
    """Invoice numbers the money may concern: its invoice's, or for an overpayment the words of
    its reference (Xero keeps no link from an overpayment to the invoice it came with)."""
    if money.source is Source.OVERPAYMENT:
        return _WORD.findall(money.reference or "")
    return [money.invoice_number] if money.invoice_number else []


class Matcher:
    def __init__(
        self,
        ledger: Ledger,
        cw: ConnectWise,
        customers: Customers,
        publish: Callable[[Outcome], None] = lambda _o: None,
    ):
        self.ledger, self.cw, self.customers, self.publish = ledger, cw, customers, publish

    def recover(self) -> int:
        """Settles every row a crash left in flight (at start-up)."""
        rows = self.ledger.in_flight()
        if rows:
            settle(rows, self.ledger, self.cw)
            self._retry({r.cw_invoice_id for r in rows if r.state == "reversing"}, set())
        return len(rows)

    def handle(self, moneys: list[XeroMoney]) -> list[Outcome]:
        outcomes, freed = self._handle(newest(moneys))
        return outcomes + self._retry(freed, {o.money.key for o in outcomes})

    def _retry(self, freed: set[int], handled: set[Key]) -> list[Outcome]:
        """A reversal frees balance: payments left unmatched on that invoice for want of it are decided again."""
        again = [m for m in (self.ledger.waiting_on(sorted(freed)) if freed else []) if m.key not in handled]
        return self._handle(newest(again))[0] if again else []

    def _handle(self, moneys: list[XeroMoney]) -> tuple[list[Outcome], set[int]]:
        """The outcomes, and the invoices a reversal gave balance back to."""
        if not moneys:
            return [], set()
        keys = [m.key for m in moneys]
        states = self.ledger.states(keys)
        in_flight = [row for state in states.values() for row in state.in_flight]
        stuck: set[Key] = set()
        if in_flight:
            stuck = {(r.organisation_id, r.xero_payment_id) for r in settle(in_flight, self.ledger, self.cw)}
            states = self.ledger.states(keys)
        current = [m for m in moneys if not _stale(m, states.get(m.key))]
        plans = self._decide(current, states, stuck)
        outcomes = self._carry_out(plans)
        self.ledger.record(outcomes)
        for outcome in outcomes:
            if outcome.exception is not None:
                self.publish(outcome)
        freed = {a.application.cw_invoice_id for _, d, _ in plans for a in d.actions if isinstance(a, Reverse)}
        return outcomes, freed | {r.cw_invoice_id for r in in_flight if r.state == "reversing"}

    # --- deciding ---------------------------------------------------------------------

    def _decide(
        self, moneys: list[XeroMoney], states: dict[Key, PaymentState], stuck: set[Key]
    ) -> list[tuple[XeroMoney, Decision, CwInvoice | None]]:
        echoes = self.ledger.echoes(moneys)
        wanted = {
            m.key: (m.invoice_id, numbers_named(m))
            for m in moneys
            if m.key not in echoes
            and not m.removed
            and m.amount > 0
            and (m.pays_an_invoice or m.source is Source.OVERPAYMENT)
        }
        found = self.ledger.targets(wanted) if wanted else {}
        invoices = self.cw.invoices(
            sorted(
                {*(cw_id for cw_id, _ in found.values()), *(s.live.cw_invoice_id for s in states.values() if s.live)}
            )
        )
        by_number = self._by_number(
            [m for m in moneys if m.key in wanted and m.key not in found and m.source is not Source.OVERPAYMENT]
        )
        invoices.update({inv.id: inv for inv in by_number.values() if inv is not None})
        balances = {i: inv.balance for i, inv in invoices.items()}
        applied = self.ledger.applied_on(
            sorted({found[m.key][0] for m in moneys if m.source is Source.OVERPAYMENT and m.key in found})
        )
        plans: list[tuple[XeroMoney, Decision, CwInvoice | None]] = []
        for money in moneys:
            state = states.get(money.key) or PaymentState()
            if money.key in stuck:
                plans.append(
                    (
                        money,
                        Decision(
                            Event.HELD,
                            "an application of this payment in ConnectWise cannot be "
                            "told apart from another payment of the same amount and "
                            "date: left as it is for a person to check",
                            exception=Raise(UNSETTLED, _unsettled(money)),
                        ),
                        None,
                    )
                )
                continue
            live = state.live
            if live is not None and live.cw_invoice_id in invoices:
                live = dataclasses.replace(live, invoice_number=invoices[live.cw_invoice_id].number)
            target = self._target(money, found, by_number, invoices, balances) if money.key in wanted else None
            decision = decide(
                money,
                Facts(
                    echoes.get(money.key),
                    live,
                    target,
                    applied.get(target.invoice.id, Decimal(0)) if target and target.invoice else Decimal(0),
                    state.reversed,
                ),
            )
            for invoice_id, move in effect_on_balance(decision.actions).items():
                balances[invoice_id] = balances.get(invoice_id, Decimal(0)) + move
                applied[invoice_id] = applied.get(invoice_id, Decimal(0)) - move
            plans.append((money, decision, target.invoice if target else None))
        return plans

    def _by_number(self, moneys: list[XeroMoney]) -> dict[str, CwInvoice | None]:
        """ConnectWise invoices by number, for payments on Xero invoices this product did not
        write and whose number ingest has not seen (one look-up per number)."""
        return {n: self.cw.by_number(n) for n in sorted({m.invoice_number for m in moneys if m.invoice_number})}

    def _target(
        self,
        money: XeroMoney,
        found: dict[Key, tuple[int, str]],
        by_number: dict[str, CwInvoice | None],
        invoices: dict[int, CwInvoice],
        balances: dict[int, Decimal],
    ) -> Target:
        cw_id, found_by = found.get(money.key, (None, "number"))
        invoice = invoices.get(cw_id) if cw_id is not None else by_number.get(money.invoice_number or "")
        if invoice is None:
            if money.source is Source.OVERPAYMENT:
                return Target.missing("names no ConnectWise invoice")
            if cw_id is not None:
                return Target.missing(
                    f"ConnectWise invoice {cw_id} (of Xero invoice {money.invoice_number}) no longer exists"
                )
            return Target.missing(f"ConnectWise has no invoice numbered {money.invoice_number or '(none)'}")
        invoice = dataclasses.replace(invoice, balance=balances.get(invoice.id, invoice.balance))
        if money.source is Source.OVERPAYMENT:
            return Target(invoice)
        return Target(invoice, self.customers.differs(money, invoice, found_by == "ledger"))

    # --- carrying out ------------------------------------------------------------------

    def _carry_out(self, plans: list[tuple[XeroMoney, Decision, CwInvoice | None]]) -> list[Outcome]:
        refused = self._reverse_then_apply(plans)
        outcomes = []
        for money, decision, invoice in plans:
            if money.key in refused:
                why = refused[money.key]
                outcomes.append(
                    Outcome(
                        money,
                        Event.RAISED,
                        f"not applied: ConnectWise refused it ({why})",
                        Raise(
                            UNMATCHED,
                            f"{money.label} of {money.amount:,.2f} cannot be matched: ConnectWise refused it ({why})",
                        ),
                        target=invoice,
                    )
                )
            else:
                outcomes.append(
                    Outcome(money, decision.event, decision.note, decision.exception, decision.settles, invoice)
                )
        return outcomes

    def _reverse_then_apply(self, plans) -> dict[Key, str]:
        """Every reversal first (it can only make room on an invoice), then every application."""
        reversals = [(m, a) for m, d, _ in plans for a in d.actions if isinstance(a, Reverse)]
        applies = [(m, a, inv) for m, d, inv in plans for a in d.actions if isinstance(a, Apply)]
        if reversals:
            self.ledger.reversing([a.application.row_id for _, a in reversals])
            done = []
            try:
                for money, action in reversals:
                    self.cw.remove(action.application.cw_invoice_id, action.application.cw_payment_id, _tags(money))
                    done.append(action.application.row_id)
            finally:
                self.ledger.reversed(done)
        refused: dict[Key, str] = {}
        if not applies:
            return refused
        highest = {
            inv: max((p.id for p in self.cw.payments(inv)), default=0)
            for inv in sorted({a.cw_invoice_id for _, a, _ in applies})
        }
        rows = self.ledger.intend([(m, a.cw_invoice_id, a.amount, highest[a.cw_invoice_id]) for m, a, _ in applies])
        landed, never = [], []
        try:
            for (money, apply, invoice), row_id in zip(applies, rows, strict=True):
                tags = _tags(money, invoice)
                try:
                    landed.append((row_id, self.cw.apply(apply.cw_invoice_id, apply.amount, money.payment_date, tags)))
                except Refused as exc:
                    never.append(row_id)
                    refused[money.key] = str(exc)
        finally:  # what landed is recorded even when a later call leaves the batch unfinished
            self.ledger.applied(landed)
            self.ledger.forget(never)
        return refused


def _stale(money: XeroMoney, state: PaymentState | None) -> bool:
    """An older version of the payment than the one already decided (a late redelivery)."""
    if state is None or state.version is None or money.updated_at >= state.version:
        return False
    log.info("%s: version %s is older than the one decided (%s); ignored", money.label, money.updated_at, state.version)
    return True


def _tags(money: XeroMoney, invoice: CwInvoice | None = None) -> dict:
    """What the audit log files the ConnectWise exchange under."""
    return {
        "record_type": "xero_payment",
        "record_id": money.payment_id,
        "organisation_id": money.organisation_id,
        "customer": (invoice.company_name or invoice.company_identifier) if invoice else money.contact_name,
    }


def _unsettled(money: XeroMoney) -> str:
    return (
        f"{money.label}: ConnectWise lists more payments of {money.amount:,.2f} on the invoice than this product "
        "has applications in flight, so which one it made cannot be told; check the invoice's payments in "
        "ConnectWise, remove any duplicate, then force-sync the payment"
    )
