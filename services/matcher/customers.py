"""Is a Xero payment's contact the ConnectWise invoice's customer? The company is
looked up in the organisation's own contact tables, as the mapper does
(`services/mapping/contacts.py`), and its Xero contact must be the payment's.

A payment on an invoice this product wrote (found through the writer's ledger)
passes when the tables know no contact for the company: the mapper chose the
contact when it wrote the invoice (or had Xero create it). It fails only when
the tables name a different contact, as when someone moved the invoice to
another contact in Xero.
"""

from __future__ import annotations

import threading

from ..common.database import Database
from ..mapping.contacts import ContactMatch, match_contact
from ..mapping.history import config_version
from ..mapping.model import Contact
from .match import CwInvoice
from .xero_money import XeroMoney


class ContactCheck:
    def __init__(self, db: Database):
        self.db = db
        self._version: int | None = None
        self._orgs: dict[str, tuple[dict[str, str], list[Contact]]] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Reloads the contact tables when the configuration changed (one query when it did not)."""
        with self._lock, self.db.connection() as conn:
            version = config_version(conn)
            if version == self._version:
                return
            orgs: dict[str, tuple[dict[str, str], list[Contact]]] = {}
            for r in conn.execute("select organisation_id, company_identifier, contact_id from contact_mappings"):
                orgs.setdefault(r["organisation_id"], ({}, []))[0][r["company_identifier"]] = r["contact_id"]
            for r in conn.execute(
                "select organisation_id, contact_id, name, contact_number, status, account_number from xero_contacts"
            ):
                orgs.setdefault(r["organisation_id"], ({}, []))[1].append(
                    Contact(r["contact_id"], r["name"], r["contact_number"], r["status"], r["account_number"])
                )
            self._orgs, self._version = orgs, version

    def differs(self, money: XeroMoney, invoice: CwInvoice, through_ledger: bool) -> str | None:
        mapped, contacts = self._orgs.get(money.organisation_id, ({}, []))
        match = match_contact(invoice.company_identifier, invoice.company_name, mapped, contacts)
        company = f"ConnectWise company {invoice.company_identifier or invoice.company_name}"
        paid_by = f"the Xero contact {money.contact_name or money.contact_id or '(none)'}"
        if isinstance(match, ContactMatch):
            if (money.contact_id or "").lower() == match.contact_id.lower():
                return None
            return (
                f"the customer differs: {paid_by} is not {company}'s contact in {money.organisation_id} "
                f"({match.contact_id}, by {match.method.replace('_', ' ')})"
            )
        if through_ledger:
            return None
        return f"the customer cannot be confirmed: {match.reason}"
