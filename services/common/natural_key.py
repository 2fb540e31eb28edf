"""What identifies a document in Xero when its Xero id is not known yet (a write
that crashed before its outcome was stored, a document that already exists).

Sales invoices and credit notes are identified by their number, which Xero keeps
unique. Bills are not (two suppliers may use the same invoice number, and one
supplier may too), so a bill is identified by its contact, number and date. The
key is written to the ledger as text and read back by recovery: one class makes
and parses that text, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

_BILL = "bill|"  # a bill's key as text: bill|<contact id>|<number>|<date>


@dataclass(frozen=True)
class NaturalKey:
    number: str
    contact_id: str | None = None  # set for bills only, with `date`
    date: str | None = None  # YYYY-MM-DD

    def __post_init__(self) -> None:
        if not str(self.number).strip():
            raise ValueError("natural_key: the document number must not be empty")
        if (self.contact_id is None) != (self.date is None):
            raise ValueError("natural_key: a bill's key needs both its contact and its date")

    @classmethod
    def bill(cls, contact_id: str, number: str, date: str) -> "NaturalKey":
        return cls(number, contact_id, date[:10])

    @property
    def is_bill(self) -> bool:
        return self.contact_id is not None

    def __str__(self) -> str:
        return f"{_BILL}{self.contact_id}|{self.number}|{self.date}" if self.is_bill else self.number

    @classmethod
    def parse(cls, text: str) -> "NaturalKey":
        """The key `str(key)` wrote; a ValueError names what is wrong. Any text that
        is not a bill's key is a document number (numbers may contain "|")."""
        if not text:
            raise ValueError("natural_key: empty")
        if not text.startswith(_BILL):
            return cls(text)
        contact_id, _, rest = text[len(_BILL) :].partition("|")
        number, _, date = rest.rpartition("|")  # the number may itself contain "|"
        if not (contact_id and number and date):
            raise ValueError(f"natural_key: {text!r} is not bill|contact|number|date")
        return cls.bill(contact_id, number, date)
