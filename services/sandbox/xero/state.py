"""In-memory Xero organisations: chart of accounts, tax rates, tracking
categories, contacts and the documents a client writes. Records are plain dicts
in Xero's PascalCase with Decimal money and datetime dates (serialize.py turns
them into JSON). Seeded from the shared synthetic MSP."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from ...common.sandbox_identity import ORGANISATIONS

_NS = uuid.UUID("0b7e6a52-8f3c-4d0e-a5d9-3c1f2e8b9a41")

_REPORT_TAX_TYPES = ("OUTPUT", "INPUT", "EXEMPTOUTPUT", "EXEMPTEXPENSES", "BASEXCLUDED")
# Account types grouped into the class a tax rate's CanApplyTo* flags speak of.
_CLASS_OF_TYPE = {
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
    "OTHERINCOME": "REVENUE",
    "EXPENSE": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "DEPRECIATN": "EXPENSE",
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYGLIABILITY": "LIABILITY",
    "SUPERANNUATIONLIABILITY": "LIABILITY",
    "WAGESPAYABLELIABILITY": "LIABILITY",
    "EQUITY": "EQUITY",
}


def stable_id(*parts: object) -> str:
    """Seeded records get the same id on every start, so a restarted demo
    still recognises the ids a client stored."""
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def new_contact(contact_id: str, **fields: Any) -> dict:
    """A contact as Xero keeps it when first made: active, no addresses, phones, groups or people;
    `fields` (Name, IsCustomer, UpdatedDateUTC, ...) set the rest."""
    return {
        "ContactID": contact_id,
        "ContactStatus": "ACTIVE",
        "IsSupplier": False,
        "IsCustomer": False,
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
        **fields,
    }


class Clock:
    """The sandbox's time: real UTC plus an offset a test or the control
    endpoint moves forward (token expiry, rate-limit windows, idempotency)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        moment = datetime.now(timezone.utc) + self.offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def set_offset(self, seconds: float) -> None:
        self.offset = timedelta(seconds=seconds)


@dataclass
class Organisation:
    tenant_id: str
    name: str
    short: str
    created: datetime
    accounts: dict[str, dict] = field(default_factory=dict)  # by Code
    tax_rates: dict[str, dict] = field(default_factory=dict)  # by TaxType
    tracking: list[dict] = field(default_factory=list)
    contacts: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    credit_notes: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    overpayments: dict[str, dict] = field(default_factory=dict)
    prepayments: dict[str, dict] = field(default_factory=dict)
    # InvoiceNumber -> ids, so uniqueness checks stay cheap with many invoices.
    numbers: dict[str, set[str]] = field(default_factory=dict)
    # Settings the books keep (books.py): base currency, country, enabled currencies, lock dates.
    base_currency: str = "AUD"
    country: str = "AU"
    currencies: dict[str, str] = field(default_factory=lambda: {"AUD": "Australian Dollar"})
    period_lock_date: date | None = None
    end_of_year_lock_date: date | None = None

    def put_invoice(self, record: dict, old_number: str | None = None) -> None:
        invoice_id = record["InvoiceID"]
        if old_number is not None and old_number != record.get("InvoiceNumber"):
            self.numbers.get(old_number, set()).discard(invoice_id)
        self.invoices[invoice_id] = record
        if record.get("InvoiceNumber"):
            self.numbers.setdefault(record["InvoiceNumber"], set()).add(invoice_id)

    def account_class(self, account: dict) -> str:
        return _CLASS_OF_TYPE.get(account["Type"], "ASSET")

    def account_by_id(self, account_id: str) -> dict | None:
        return next((a for a in self.accounts.values() if a["AccountID"] == account_id), None)

    def find_contact(self, ref: dict) -> dict | None:
        """A Contact reference: by ContactID, else ContactNumber, else Name (as Xero: a contact's name is
        unique, so a document naming an existing contact without its number finds it, never a second one)."""
        if ref.get("ContactID"):
            return self.contacts.get(str(ref["ContactID"]).lower())
        for key in ("ContactNumber", "Name"):
            if ref.get(key):
                found = next((c for c in self.contacts.values() if c.get(key) == ref[key]), None)
                if found:
                    return found
        return None

    def invoice_by_number(self, number: str, type_: str = "ACCREC") -> dict | None:
        candidates = (self.invoices[i] for i in sorted(self.numbers.get(number, ())))
        return next(
            (
                i
                for i in candidates
                if i.get("InvoiceNumber") == number and i["Type"] == type_ and i["Status"] not in ("DELETED", "VOIDED")
            ),
            None,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "name": self.name,
            "contacts": len(self.contacts),
            "invoices": len(self.invoices),
            "creditNotes": len(self.credit_notes),
            "payments": len(self.payments),
            "overpayments": len(self.overpayments),
        }


Listener = Callable[[str, str, str, str], None]  # (tenant_id, category, resource_id, CREATE|UPDATE)


class XeroState:
    """All organisations plus the clock. One lock serialises writes: the app is
    single-process and the mutator runs in another thread."""

    def __init__(self, organisations: dict[str, Organisation], clock: Clock | None = None) -> None:
        self.organisations = organisations
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        self.fail_next: dict[str, int] = {}  # collection -> count of writes to refuse (fault)

    def org(self, tenant_id: str) -> Organisation | None:
        return self.organisations.get(tenant_id.lower())

    def notify(self, tenant_id: str, category: str, resource_id: str, event_type: str) -> None:
        for listener in list(self.listeners):
            listener(tenant_id, category, resource_id, event_type)

    def summary(self) -> dict[str, Any]:
        return {
            "now": self.clock.now().isoformat(),
            "organisations": [o.summary() for o in self.organisations.values()],
        }


def build_state(msp: Any, clock: Clock | None = None) -> XeroState:
    """Organisations with the MSP's chart of accounts, tax rates, tracking
    categories and contacts. Some contacts carry the ConnectWise company
    identifier as ContactNumber, others only a matching name; companies without
    an entry in msp.xero_contacts have no contact (the missing-contact case)."""
    clock = clock or Clock()
    created = clock.now() - timedelta(days=365)
    companies = {c.id: c for c in msp.companies}
    organisations: dict[str, Organisation] = {}
    for ident in ORGANISATIONS:
        org = Organisation(ident.tenant_id.lower(), ident.name, ident.short, created)
        for acc in msp.accounts:
            org.accounts[acc.code] = {
                "AccountID": stable_id(ident.short, "account", acc.code),
                "Code": acc.code,
                "Name": acc.name,
                "Type": acc.type,
                "TaxType": acc.tax_type,
                "Status": "ACTIVE",
                "Class": _CLASS_OF_TYPE.get(acc.type, "ASSET"),
                "EnablePaymentsToAccount": acc.type == "BANK",
                "ShowInExpenseClaims": False,
                "BankAccountNumber": acc.bank_account_number,
                "BankAccountType": "BANK" if acc.type == "BANK" else None,
                "CurrencyCode": "AUD" if acc.type == "BANK" else None,
                "SystemAccount": acc.system_account,
                "ReportingCode": None,
                "HasAttachments": False,
                "UpdatedDateUTC": created,
            }
        for rate in msp.tax_rates:
            org.tax_rates[rate.tax_type] = {
                "Name": rate.name,
                "TaxType": rate.tax_type,
                "Status": "ACTIVE",
                # Xero's system rates report under their own tax type (all published ReportTaxType values).
                "ReportTaxType": rate.tax_type if rate.tax_type in _REPORT_TAX_TYPES else None,
                "CanApplyToAssets": rate.can_apply_to_assets,
                "CanApplyToEquity": rate.can_apply_to_equity,
                "CanApplyToExpenses": rate.can_apply_to_expenses,
                "CanApplyToLiabilities": rate.can_apply_to_liabilities,
                "CanApplyToRevenue": rate.can_apply_to_revenue,
                "DisplayTaxRate": rate.rate,
                "EffectiveRate": rate.rate,
                "TaxComponents": [{"Name": "GST", "Rate": rate.rate, "IsCompound": False, "IsNonRecoverable": False}],
            }
        for cat in msp.tracking_categories:
            cat_id = stable_id(ident.short, "tracking", cat.name)
            org.tracking.append(
                {
                    "TrackingCategoryID": cat_id,
                    "Name": cat.name,
                    "Status": "ACTIVE",
                    "Options": [
                        {"TrackingOptionID": stable_id(cat_id, opt), "Name": opt, "Status": "ACTIVE"}
                        for opt in cat.options
                    ],
                }
            )
        organisations[org.tenant_id] = org
    by_short = {o.short: o for o in organisations.values()}
    for contact in msp.xero_contacts:
        org = by_short[contact.organisation]
        company = companies.get(contact.company_id)
        contact_id = stable_id(org.short, "contact", contact.company_id)
        # Two in three carry the CW identifier as ContactNumber; the rest can
        # only be found by name, as in a ledger that predates the integration.
        with_number = contact.company_id % 3 != 0
        org.contacts[contact_id] = new_contact(
            contact_id,
            ContactNumber=contact.account_number if with_number else None,
            AccountNumber=contact.account_number if with_number else None,
            Name=contact.name,
            EmailAddress=contact.email,
            IsSupplier=contact.is_supplier,
            IsCustomer=not getattr(company, "is_vendor", False),
            UpdatedDateUTC=created,
        )
    return XeroState(organisations, clock)
