"""The matching rules: what one Xero payment means for ConnectWise, given what is
known of it. Pure: no clock, no I/O. docs/payments.md states each rule.

The caller finds the facts (is it our own echo, what the ledger has applied for
it, which ConnectWise invoice it concerns and whether the customer is the same)
and carries the invoice's balance from one decision to the next, so several
payments on one invoice add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..common.lifecycle import Event
from .xero_money import Source, XeroMoney, cents

UNMATCHED = "unmatched_payment"
OVERPAYMENT = "overpayment"
ZERO = Decimal("0.00")
VOID_STATUSES = frozenset({"void", "voided", "cancelled", "canceled", "closed"})


@dataclass(frozen=True)
class CwInvoice:
    """A ConnectWise invoice as the rules need it."""

    id: int
    number: str
    balance: Decimal
    status: str = "Sent"
    kind: str = "Standard"
    company_identifier: str = ""
    company_name: str = ""

    @property
    def closed_because(self) -> str | None:
        if self.kind == "CreditMemo":
            return f"ConnectWise {self.number} is a credit memo, not an invoice"
        if self.status.strip().lower() in VOID_STATUSES:
            return f"ConnectWise invoice {self.number} is {self.status.lower()}"
        return None


@dataclass(frozen=True)
class Applied:
    """A live application of this Xero payment in ConnectWise (from the ledger)."""

    row_id: int
    cw_invoice_id: int
    cw_payment_id: int  # an application is live once ConnectWise answered its payment
    amount: Decimal
    invoice_number: str = ""


@dataclass(frozen=True)
class Target:
    """The ConnectWise invoice the payment concerns, or why there is none to apply it to."""

    invoice: CwInvoice | None
    problem: str | None = None  # set when `invoice` is None, or the customer differs

    @classmethod
    def missing(cls, problem: str) -> "Target":
        return cls(None, problem)


@dataclass(frozen=True)
class Facts:
    echo: str | None = None  # what this product wrote it from, when it is its own
    live: Applied | None = None
    target: Target | None = None
    applied_on_target: Decimal = ZERO  # what the ledger has applied to the target invoice (all payments)
    reversed: bool = False  # an earlier application of it is reversed already


@dataclass(frozen=True)
class Apply:
    cw_invoice_id: int
    amount: Decimal


@dataclass(frozen=True)
class Reverse:
    application: Applied


@dataclass(frozen=True)
class Raise:
    kind: str
    message: str


@dataclass(frozen=True)
class Decision:
    event: Event
    note: str  # shown on the record: what was applied, or why not
    actions: tuple[Apply | Reverse, ...] = ()
    exception: Raise | None = None
    settles: bool = False  # the payment's open exceptions are resolved


def _money(value: Decimal) -> str:
    return f"{cents(value):,.2f}"


def _reversal(money: XeroMoney, live: Applied | None) -> tuple[tuple[Reverse, ...], str]:
    if live is None:
        return (), ""
    return (Reverse(live),), (
        f"reversed {_money(live.amount)} from ConnectWise invoice {live.invoice_number or live.cw_invoice_id}; "
    )


def decide(money: XeroMoney, facts: Facts) -> Decision:
    """What to do with `money`, the newest version of a Xero payment the matcher has seen."""
    if facts.echo:
        return Decision(Event.SKIPPED, f"written by this product from {facts.echo}: never applied back (no echo)")
    if money.source in (Source.OVERPAYMENT, Source.PREPAYMENT):
        return _credit(money, facts)
    if not money.pays_an_invoice:
        return Decision(
            Event.SKIPPED,
            f"a {money.payment_type or 'Xero'} payment pays no sales invoice, so no ConnectWise invoice",
            settles=True,
        )
    if money.removed or money.amount == ZERO:
        if facts.live is None and facts.reversed:
            return Decision(
                Event.WRITTEN,
                f"{money.status.lower()} in Xero: its application in ConnectWise is reversed",
                settles=True,
            )
        if facts.live is None:
            return Decision(
                Event.SKIPPED, f"{money.status.lower() or 'removed'} in Xero before anything was applied", settles=True
            )
        actions, said = _reversal(money, facts.live)
        return Decision(Event.WRITTEN, f"{money.status.lower()} in Xero: {said.rstrip('; ')}", actions, settles=True)
    return _apply(money, facts)


def _apply(money: XeroMoney, facts: Facts) -> Decision:
    live, target = facts.live, facts.target
    invoice = target.invoice if target else None
    if invoice is None or (target and target.problem):
        actions, said = _reversal(money, live)
        missing = (target.problem if target else None) or "its ConnectWise invoice could not be found"
        return Decision(
            Event.RAISED,
            said + f"not applied: {missing}",
            actions,
            Raise(UNMATCHED, f"{money.label} of {_money(money.amount)} cannot be matched: {missing}"),
        )
    if live is not None and live.cw_invoice_id == invoice.id and live.amount == money.amount:
        return Decision(
            Event.WRITTEN,
            f"applied {_money(money.amount)} to ConnectWise invoice {invoice.number}"
            f" (ConnectWise payment {live.cw_payment_id})",
            settles=True,
        )
    actions, said = _reversal(money, live)
    available = invoice.balance + (live.amount if live is not None and live.cw_invoice_id == invoice.id else ZERO)
    why = invoice.closed_because
    if why is None and money.amount > available:
        why = (
            f"its amount {_money(money.amount)} is above the balance of ConnectWise invoice {invoice.number} "
            f"({_money(available)}); nothing was applied, so the balance never goes below zero"
        )
    if why is not None:
        return Decision(
            Event.RAISED,
            said + f"not applied: {why}",
            actions,
            Raise(
                UNMATCHED,
                f"{money.label} of {_money(money.amount)} on invoice "
                f"{money.invoice_number or invoice.number} cannot be matched: {why}",
            ),
        )
    moved = " (moved in Xero)" if live is not None and live.cw_invoice_id != invoice.id else ""
    return Decision(
        Event.WRITTEN,
        said + f"applied {_money(money.amount)} to ConnectWise invoice {invoice.number}"
        f"{moved}; its balance is now {_money(available - money.amount)}",
        actions + (Apply(invoice.id, money.amount),),
        settles=True,
    )


def _credit(money: XeroMoney, facts: Facts) -> Decision:
    """Overpayment or prepayment credit not allocated to any invoice."""
    kind = money.source.value
    if money.removed or money.amount == ZERO:
        return Decision(Event.SKIPPED, f"no {kind} credit left unallocated", settles=True)
    if money.source is Source.PREPAYMENT:
        return Decision(
            Event.SKIPPED,
            f"prepayment credit of {_money(money.amount)} is not allocated to an invoice "
            "yet; each allocation is applied to its ConnectWise invoice",
        )
    invoice = facts.target.invoice if facts.target else None
    if invoice is None:
        where = "names no ConnectWise invoice"
        applied = ""
    else:
        where = f"came with ConnectWise invoice {invoice.number}"
        applied = (
            f"; applied to that invoice: {_money(facts.applied_on_target)}, its balance now {_money(invoice.balance)}"
        )
    who = f"the customer {money.contact_name}" if money.contact_name else "the customer"
    message = (
        f"{who} paid {_money(money.amount)} beyond what was due: Xero holds it "
        f"as overpayment {money.payment_id}, which {where}{applied}. ConnectWise cannot take money beyond an "
        "invoice's balance, so the excess is not applied there: refund it, or allocate it to another invoice "
        "in Xero (the allocation is then applied in ConnectWise)"
    )
    return Decision(
        Event.RAISED,
        f"overpayment of {_money(money.amount)} not applied in ConnectWise: {where}",
        exception=Raise(OVERPAYMENT, message),
    )


def effect_on_balance(actions: tuple[Apply | Reverse, ...]) -> dict[int, Decimal]:
    """How the actions move each ConnectWise invoice's balance (positive: up)."""
    moves: dict[int, Decimal] = {}
    for action in actions:
        if isinstance(action, Apply):
            moves[action.cw_invoice_id] = moves.get(action.cw_invoice_id, ZERO) - action.amount
        else:
            moves[action.application.cw_invoice_id] = (
                moves.get(action.application.cw_invoice_id, ZERO) + action.application.amount
            )
    return moves
