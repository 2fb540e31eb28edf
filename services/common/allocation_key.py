"""What identifies a credit note allocation in Xero when its AllocationID is not
known yet (an allocation whose answer a crash lost): the credit note, the invoice,
the amount and the date. The mapper writes it as the request's natural key and
the writer's recovery reads it back; one class does both.

(Payments need no such key: each carries its own mark in its Reference, see
`echo.xero_reference`, and is found by that.)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_PREFIX = "allocation|"


@dataclass(frozen=True)
class AllocationKey:
    credit_note_id: str
    invoice_id: str
    amount: Decimal
    date: str  # YYYY-MM-DD

    def __str__(self) -> str:
        return f"{_PREFIX}{self.credit_note_id}|{self.invoice_id}|{self.amount:.2f}|{self.date}"

    @classmethod
    def parse(cls, text: str) -> "AllocationKey":
        parts = text[len(_PREFIX) :].split("|") if text.startswith(_PREFIX) else []
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"natural_key: {text!r} is not allocation|credit note|invoice|amount|date")
        try:
            amount = Decimal(parts[2])
        except InvalidOperation:
            raise ValueError(f"natural_key: {parts[2]!r} is not an amount") from None
        return cls(parts[0], parts[1], amount, parts[3])
