"""Which Xero contact a ConnectWise company is, in one organisation.

In order: an explicit mapping (company identifier -> ContactID), then a Xero
contact whose ContactNumber (or AccountNumber, the customer code people type in
Xero) is the company identifier, then one whose Name is exactly the company
name. Two candidates at the same step is not a match: the product never picks
one of two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .model import Contact


@dataclass(frozen=True)
class ContactMatch:
    contact_id: str
    method: str  # mapping | contact_number | name


@dataclass(frozen=True)
class NoContact:
    reason: str
    ambiguous: bool = False  # several candidates: creating another would make it worse


def match_contact(
    company_identifier: str,
    company_name: str,
    mapped: dict[str, str],
    contacts: Iterable[Contact],
) -> ContactMatch | NoContact:
    if company_identifier in mapped:
        return ContactMatch(mapped[company_identifier], "mapping")
    active = [c for c in contacts if c.status == "ACTIVE"]
    ident = company_identifier.strip()
    by_number = [c for c in active if ident in _numbers(c)]
    if len(by_number) == 1:
        return ContactMatch(by_number[0].contact_id, "contact_number")
    if len(by_number) > 1:
        return NoContact(
            f"{len(by_number)} Xero contacts have ContactNumber or AccountNumber {ident!r}", ambiguous=True
        )
    name = company_name.strip()
    by_name = [c for c in active if c.name.strip() == name]
    if len(by_name) == 1:
        return ContactMatch(by_name[0].contact_id, "name")
    if len(by_name) > 1:
        return NoContact(f"{len(by_name)} Xero contacts are named {name!r}", ambiguous=True)
    return NoContact(
        f"no Xero contact for company {ident!r} ({name}): no contact mapping, "
        f"no contact with ContactNumber or AccountNumber {ident!r}, none named {name!r}"
    )


def _numbers(contact: Contact) -> set[str]:
    return {n.strip() for n in (contact.contact_number, contact.account_number) if n and n.strip()}


class ContactIndex:
    """The same lookup over a large contact list, indexed once per snapshot."""

    def __init__(self, contacts: Iterable[Contact]):
        self.by_number: dict[str, list[Contact]] = {}
        self.by_name: dict[str, list[Contact]] = {}
        for c in contacts:
            if c.status != "ACTIVE":
                continue
            for number in _numbers(c):
                self.by_number.setdefault(number, []).append(c)
            self.by_name.setdefault(c.name.strip(), []).append(c)

    def candidates(self, company_identifier: str, company_name: str) -> list[Contact]:
        found = self.by_number.get(company_identifier.strip(), []) + self.by_name.get(company_name.strip(), [])
        return list({c.contact_id: c for c in found}.values())
