"""The configuration the pure mapping functions work on: routing rules, one
organisation's mapping tables and Xero catalog, and a snapshot of all of them.

These are plain values: the repository builds them from Postgres, the tests
build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, get_args

from ..common.record_kinds import RecordKind

if TYPE_CHECKING:  # the index is built on first use (model stays free of contacts' imports)
    from .contacts import ContactIndex
    from .routing import Router

RULE_KINDS = ("tag", "member", "location", "default")
SIDES = ("sales", "purchases")
TRACKING_SOURCES = (
    "location",
    "department",
    "catalog_item",
    "product_class",
)  # the first two per record, the others per line
MAPPING_TABLES = ("accounts", "tax", "tracking", "contacts")
ACCOUNT_CLASSES = ("ASSET", "EQUITY", "EXPENSE", "LIABILITY", "REVENUE")

# Without an explicit priority, a tag beats a member, which beats a location:
# a tag is the most deliberate statement of where a record belongs.
DEFAULT_PRIORITY = {"tag": 100, "member": 200, "location": 300, "default": 1000}


def side_of(record_type: str) -> str:
    return "purchases" if record_type == RecordKind.PROCUREMENT else "sales"


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str  # tag | member | location | default
    value: str  # location id, member identifier or tag value ('' for default)
    organisation_id: str
    priority: int
    caption: str = ""  # custom field caption, tag rules only


@dataclass(frozen=True)
class Account:
    code: str
    name: str = ""
    account_class: str = ""
    status: str = "ACTIVE"
    payments_enabled: bool = False  # a bank account, or one Xero lets payments go into


@dataclass(frozen=True)
class TaxRate:
    tax_type: str
    name: str = ""
    rate: Decimal | None = None  # percent
    applies_to: frozenset[str] = frozenset()  # account classes; empty = unknown
    status: str = "ACTIVE"


@dataclass(frozen=True)
class Contact:
    contact_id: str
    name: str
    contact_number: str | None = None
    status: str = "ACTIVE"
    account_number: str | None = None


@dataclass
class Catalog:
    """What one Xero organisation knows: account codes, tax rates, tracking, contacts."""

    accounts: dict[str, Account] = field(default_factory=dict)
    tax_rates: dict[str, TaxRate] = field(default_factory=dict)
    tracking: dict[str, frozenset[str]] = field(default_factory=dict)  # category -> active options
    contacts: list[Contact] = field(default_factory=list)
    _contact_index: ContactIndex | None = field(default=None, repr=False, compare=False)

    def contact_candidates(self, company_identifier: str, company_name: str) -> list[Contact]:
        """The contacts that could match, from an index built on first use."""
        if self._contact_index is None:
            from .contacts import ContactIndex

            self._contact_index = ContactIndex(self.contacts)
        return self._contact_index.candidates(company_identifier, company_name)


@dataclass(frozen=True)
class MappingProblem:
    """Why a record cannot be mapped, naming the field and value (one exception each)."""

    kind: str  # missing_contact | missing_tracking_option | unknown_account | tax_mismatch | bad_record | ...
    field: str
    value: str
    message: str


Mode = Literal["live", "shadow"]
MODES: tuple[str, ...] = get_args(Mode)
LockDateTreatment = Literal["exception", "first_open_day"]
LOCK_DATE_TREATMENTS: tuple[str, ...] = get_args(LockDateTreatment)


@dataclass(frozen=True)
class SyncSettings:
    """How one organisation's books are kept (docs/real-books.md), as its operator set them."""

    go_live_date: date | None = None  # records dated before it are never written
    mode: str = "live"  # live, or shadow: everything is decided, nothing is written to Xero
    shadow_since: datetime | None = None
    lock_date_treatment: str = "exception"  # or first_open_day: dated the day after the lock date
    rounding_account: str | None = None  # account code of a rounding line, when one is needed
    customer_details: bool = False  # the Xero contact follows the company's billing contact

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"


@dataclass(frozen=True)
class XeroFacts:
    """What Xero says of one organisation (GET Organisation and GET Currencies, read with its catalog)."""

    base_currency: str | None = None
    currencies: frozenset[str] = frozenset()  # enabled besides the base currency
    period_lock_date: date | None = None
    end_of_year_lock_date: date | None = None

    @property
    def lock_date(self) -> date | None:
        """Nothing dated on or before it can be written: the later of the two lock dates."""
        dates = [d for d in (self.period_lock_date, self.end_of_year_lock_date) if d is not None]
        return max(dates) if dates else None


@dataclass
class OrgMapping:
    """One organisation with its own mapping tables and catalog."""

    organisation_id: str
    name: str = ""
    tenant_id: str = ""
    status: str = "connected"
    create_contacts: bool = False  # a company with no Xero contact gets one created (by name) with its document
    payment_account: str | None = None  # the account code ConnectWise payments and refunds go into
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)  # (side, product class | '*') -> code
    tax: dict[tuple[str, str], str] = field(default_factory=dict)  # (side, tax code | 'exempt' | '*') -> tax type
    tracking: dict[tuple[str, str], tuple[str, str]] = field(
        default_factory=dict
    )  # (source kind, value) -> (category, option)
    contacts: dict[str, str] = field(default_factory=dict)  # company identifier -> ContactID
    catalog: Catalog = field(default_factory=Catalog)
    settings: SyncSettings = field(default_factory=SyncSettings)
    facts: XeroFacts = field(default_factory=XeroFacts)

    @property
    def tracked_kinds(self) -> set[str]:
        """Sources this organisation tracks by: a value with no mapping there is a problem."""
        cached = self.__dict__.get("_tracked")
        if cached is None or cached[0] != len(self.tracking):  # cheap check: asked for every line
            cached = (len(self.tracking), {kind for kind, _ in self.tracking})
            self.__dict__["_tracked"] = cached
        return cached[1]


@dataclass
class Snapshot:
    """All configuration at one version (the highest config change seq)."""

    version: int
    rules: list[Rule]
    orgs: dict[str, OrgMapping]
    create_status: dict[str, str]  # record type -> DRAFT | AUTHORISED

    @property
    def router(self) -> Router:
        """The rules made ready for routing, built once for this snapshot."""
        from .routing import Router  # routing is written over this model

        built = self.__dict__.get("_router")
        if built is None or built[0] is not self.rules:
            built = (self.rules, Router(self.rules))
            self.__dict__["_router"] = built
        return built[1]
