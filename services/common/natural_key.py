"""What identifies a document in Xero when its Xero id is not known yet (a write
that crashed before its outcome was stored, a document that already exists).

Sales invoices and credit notes are identified by their number, which Xero keeps
unique. Bills are not (two suppliers may use the same invoice number, and one
supplier may too), so a bill is identified by its contact, number and date: the
contact by its id, or, when Xero is to create it from the bill, by its name
(Xero keeps contact names unique, and the name is all the bill names it by
before Xero gives it an id). The key is written to the ledger as text and read
back by recovery: one class makes and parses that text, so the two cannot drift
apart.
"""

from __future__ import annotations

from dataclasses import dataclass

_BILL = "bill|"  # a bill's key as text: bill|<contact id>|<number>|<date>
_NAMED_BILL = "bill-named|"  # bill-named|<contact name, "|" and "%" escaped>|<number>|<date>


@dataclass(frozen=True)
class NaturalKey:
    number: str
    contact_id: str | None = None  # a bill's contact, when Xero has given it an id
    date: str | None = None  # YYYY-MM-DD, set for bills only
    contact_name: str | None = None  # a bill's contact that Xero creates from its name

    def __post_init__(self) -> None:
        if not str(self.number).strip():
            raise ValueError("natural_key: the document number must not be empty")
        if self.contact_id is not None and self.contact_name is not None:
            raise ValueError("natural_key: a bill's contact is named by its id or its name, not both")
        contact = self.contact_id if self.contact_id is not None else self.contact_name
        if (contact is None) != (self.date is None):
            raise ValueError("natural_key: a bill's key needs both its contact and its date")
        if contact is not None and not contact.strip():
            raise ValueError("natural_key: a bill's contact must not be empty")

    @classmethod
    def bill(cls, contact_id: str, number: str, date: str) -> "NaturalKey":
        return cls(number, contact_id, date[:10])

    @classmethod
    def named_bill(cls, contact_name: str, number: str, date: str) -> "NaturalKey":
        return cls(number, None, date[:10], contact_name)

    @property
    def is_bill(self) -> bool:
        return self.date is not None

    def __str__(self) -> str:
        if self.contact_id is not None:
            return f"{_BILL}{self.contact_id}|{self.number}|{self.date}"
        if self.contact_name is not None:
            return f"{_NAMED_BILL}{_escape(self.contact_name)}|{self.number}|{self.date}"
        return self.number

    @classmethod
    def parse(cls, text: str) -> "NaturalKey":
        """The key `str(key)` wrote; a ValueError names what is wrong. Any text that
        is not a bill's key is a document number (numbers may contain "|")."""
        if not text:
            raise ValueError("natural_key: empty")
        prefix = next((p for p in (_BILL, _NAMED_BILL) if text.startswith(p)), None)
        if prefix is None:
            return cls(text)
        contact, _, rest = text[len(prefix) :].partition("|")
        number, _, date = rest.rpartition("|")  # the number may itself contain "|"
        if not (contact and number and date):
            raise ValueError(f"natural_key: {text!r} is not {prefix}contact|number|date")
        if prefix == _BILL:
            return cls.bill(contact, number, date)
        return cls.named_bill(_unescape(contact), number, date)


# A contact's name may hold the separator; its key keeps it as %7C (and a % as %25).
def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("|", "%7C")


def _unescape(text: str) -> str:
    return text.replace("%7C", "|").replace("%25", "%")
