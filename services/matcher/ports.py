"""What the matcher works with, as interfaces: its ledger (Postgres), ConnectWise,
and the customer check. The engine is written against these; the service wires
the real adapters, the tests fakes of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from ..common.lifecycle import Event
from .match import Applied, CwInvoice, Raise
from .xero_money import XeroMoney

Key = tuple[str, str]  # (organisation id, Xero payment id)


@dataclass(frozen=True)
class InFlight:
    """A ledger row whose ConnectWise call may or may not have happened (a crash, a lost answer)."""

    row_id: int
    organisation_id: str
    xero_payment_id: str
    cw_invoice_id: int
    state: str  # applying | reversing
    amount: Decimal
    payment_date: date | None
    cw_payment_id: int | None = None
    max_before: int = 0  # the highest ConnectWise payment id on the invoice when the intent was recorded


@dataclass
class PaymentState:
    """What the ledger knows of one Xero payment."""

    version: datetime | None = None  # the UpdatedDateUTC last decided on
    live: Applied | None = None
    reversed: bool = False  # an application of it was made and reversed (a crash may have cut the story short)
    in_flight: list[InFlight] = field(default_factory=list)


@dataclass(frozen=True)
class CwPayment:
    id: int
    type: str
    amount: Decimal
    paid_on: date | None


@dataclass(frozen=True)
class Outcome:
    """What became of one Xero payment: stored on its record, with the version decided."""

    money: XeroMoney
    event: Event
    note: str
    exception: Raise | None = None
    settles: bool = False
    target: CwInvoice | None = None


class Refused(Exception):
    """ConnectWise refused the call (a 4xx): nothing happened there."""


class Unanswered(Exception):
    """No usable answer: the call may or may not have happened; settle before trying again."""

    transient = True  # an outage, in the consumers' error policy: the batch comes again


class Ledger(Protocol):
    def states(self, keys: list[Key]) -> dict[Key, PaymentState]: ...

    def echoes(self, moneys: list[XeroMoney]) -> dict[Key, str]:
        """What this product wrote each of its own payments from (the no-echo rule); others are left out."""

    def targets(self, wanted: dict[Key, tuple[str | None, list[str]]]) -> dict[Key, tuple[int, str]]:
        """For each key, (Xero InvoiceID, invoice numbers it may carry) -> (the ConnectWise invoice id,
        "ledger" or "number"): first from the writer's ledger (the invoice this product wrote), else by
        a number ingest has seen. Keys found neither way are left out."""

    def applied_on(self, cw_invoice_ids: list[int]) -> dict[int, Decimal]: ...

    def claimed(self, cw_payment_ids: list[int]) -> set[int]: ...

    def intend(self, intents: list[tuple[XeroMoney, int, Decimal, int]]) -> list[int]:
        """(money, ConnectWise invoice id, amount, highest payment id there) -> row ids, stored before any call."""

    def applied(self, done: list[tuple[int, int]]) -> None:
        """(row id, ConnectWise payment id) of applications that landed."""

    def forget(self, row_ids: list[int]) -> None:
        """Intents whose call never landed."""

    def reversing(self, row_ids: list[int]) -> None: ...

    def reversed(self, row_ids: list[int]) -> None: ...

    def in_flight(self) -> list[InFlight]: ...

    def record(self, outcomes: list[Outcome]) -> None:
        """Statuses, versions and resolved exceptions, in one transaction."""

    def waiting_on(self, cw_invoice_ids: list[int]) -> list[XeroMoney]:
        """Payments left unmatched on these invoices, to decide again when their balance rose."""


class ConnectWise(Protocol):
    def invoices(self, ids: list[int]) -> dict[int, CwInvoice]: ...

    def by_number(self, number: str) -> CwInvoice | None: ...

    def payments(self, cw_invoice_id: int) -> list[CwPayment]: ...

    def apply(self, cw_invoice_id: int, amount: Decimal, paid_on: date | None, tags: dict) -> int:
        """Creates the payment; its ConnectWise id. Raises Refused or Unanswered."""

    def remove(self, cw_invoice_id: int, cw_payment_id: int, tags: dict) -> None:
        """Deletes the payment (gone already is fine). Raises Unanswered."""


class Customers(Protocol):
    def differs(self, money: XeroMoney, invoice: CwInvoice, through_ledger: bool) -> str | None:
        """Why the payment's Xero contact is not the invoice's customer, or None when it is."""
