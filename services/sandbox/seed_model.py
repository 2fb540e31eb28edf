"""The records of the synthetic MSP (see seed.py for the generator and the
routing intent). Neutral shapes: snake_case, Decimal money rounded to cents,
date/datetime in UTC; each simulator renders them in its own API's shape.
Totals are derived from lines, never stored separately."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeAlias

from ..common.sandbox_identity import ORGANISATIONS

CENT = Decimal("0.01")
XERO_ENTITY_FIELD_ID = 7  # id of the "Xero Entity" custom field definition in ConnectWise
EXCHANGE_RATE_FIELD_ID = 8  # id of the "Exchange Rate" custom field the MSP fills on invoices in another currency
BASE_CURRENCY = "AUD"  # the MSP's own currency, and its Xero organisations' base currency
CURRENCY_NAMES = {"AUD": "Australian Dollar", "NZD": "New Zealand Dollar"}
# ConnectWise payment types (Payment.type): money received, a credit memo applied, money paid back.
PAYMENT, CREDIT_APPLIED, REFUND = "Payment", "Credit Memo", "Refund"
# The date type under a name no field shadows (Invoice has a field named `date`).
Day: TypeAlias = date


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def recorded_rate(currency: str, day: date) -> Decimal | None:
    """The rate the MSP records on an invoice in another currency: units of `currency` to one
    Australian dollar, moving a little from day to day (None for the base currency)."""
    if currency == BASE_CURRENCY:
        return None
    return Decimal("1.0850") + Decimal(day.toordinal() % 41) / 1000


@dataclass(frozen=True)
class Location:
    """A ConnectWise location (office). `organisation` is the short name of the Xero
    organisation its records route to; `name` is also its Region tracking option."""

    id: int
    name: str
    organisation: str
    currency: str = BASE_CURRENCY  # what its customers are billed in


@dataclass(frozen=True)
class Department:
    id: int
    identifier: str
    name: str


@dataclass(frozen=True)
class Member:
    """A staff member (ConnectWise system/members) with default location and department."""

    id: int
    identifier: str
    first_name: str
    last_name: str
    email: str
    location_id: int
    department_id: int


@dataclass(frozen=True)
class TaxCode:
    """A ConnectWise tax code and the Xero tax types it corresponds to."""

    id: int
    name: str
    rate: Decimal  # percent, e.g. 10.00
    xero_sales_tax_type: str
    xero_purchase_tax_type: str


@dataclass(frozen=True)
class Company:
    """A ConnectWise company. `xero_entity` is the value of its "Xero Entity" custom
    field (None when untagged). Vendors are suppliers of purchase orders."""

    id: int
    identifier: str
    name: str
    location_id: int
    account_manager_id: int
    tax_code_id: int
    billing_terms: str
    email: str
    xero_entity: str | None = None
    is_vendor: bool = False
    currency: str = BASE_CURRENCY


@dataclass(frozen=True)
class CatalogItem:
    """A ConnectWise catalog product. `product_class` is CW's (Agreement, Service,
    NonInventory, Inventory); `xero_account` / `xero_cost_account` are the chart-of-accounts
    codes it maps to; `service_line` is its Service Line tracking option."""

    id: int
    identifier: str
    description: str
    product_class: str
    price: Decimal
    cost: Decimal
    xero_account: str
    xero_cost_account: str
    service_line: str
    taxable: bool = True


@dataclass
class InvoiceLine:
    """One product on an invoice (CW procurement/products with invoice/id). On credit
    memos the price is negative so lines add up to the memo's negative total."""

    id: int
    catalog_item_id: int
    description: str
    quantity: Decimal
    price: Decimal
    cost: Decimal
    taxable: bool

    @property
    def amount(self) -> Decimal:
        return money(self.quantity * self.price)


@dataclass
class Invoice:
    """A ConnectWise invoice of any type (Standard, Agreement, Miscellaneous, Progress,
    DownPayment, CreditMemo). `apply_to_id` links a credit memo to the invoice it credits.
    `tax_rate` is the percent of the invoice's tax code; `updated_at` is the initial
    `_info.lastUpdated`. An invoice in another currency than the base one carries the
    `exchange_rate` the MSP recorded (units of it to one base unit)."""

    id: int
    invoice_number: str
    type: str
    company_id: int
    location_id: int
    department_id: int
    member_id: int
    date: Day
    due_date: Day
    billing_terms: str
    tax_code_id: int
    tax_rate: Decimal
    status: str
    lines: list[InvoiceLine]
    updated_at: datetime
    apply_to_id: int | None = None
    currency: str = BASE_CURRENCY
    exchange_rate: Decimal | None = None

    @property
    def subtotal(self) -> Decimal:
        return money(sum((line.amount for line in self.lines), Decimal(0)))

    @property
    def sales_tax(self) -> Decimal:
        taxable = sum((line.amount for line in self.lines if line.taxable), Decimal(0))
        return money(taxable * self.tax_rate / 100)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax


@dataclass
class PurchaseOrderLine:
    line_number: int
    catalog_item_id: int
    description: str
    quantity: Decimal
    unit_cost: Decimal
    taxable: bool = True


@dataclass
class PurchaseOrder:
    """A ConnectWise purchase order from a vendor company, for one location."""

    id: int
    po_number: str
    po_date: date
    vendor_company_id: int
    vendor_invoice_number: str
    vendor_invoice_date: date
    location_id: int
    tax_code_id: int
    tax_rate: Decimal
    status: str
    lines: list[PurchaseOrderLine]
    updated_at: datetime
    freight_cost: Decimal = Decimal("0.00")

    @property
    def subtotal(self) -> Decimal:
        return money(sum((money(line.quantity * line.unit_cost) for line in self.lines), Decimal(0)))

    @property
    def sales_tax(self) -> Decimal:
        taxable = sum((money(line.quantity * line.unit_cost) for line in self.lines if line.taxable), Decimal(0))
        return money((taxable + self.freight_cost) * self.tax_rate / 100)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.freight_cost + self.sales_tax


@dataclass
class Payment:
    """Money recorded in ConnectWise under an invoice (`finance/invoices/{invoice_id}/payments`).
    `type` is "Payment" (money received), "Credit Memo" (the credit memo `credit_id` applied
    to this invoice: listed under the invoice it settles) or "Refund" (money paid back to the
    customer against this invoice, which is then a credit memo). Amounts are always positive."""

    id: int
    invoice_id: int
    amount: Decimal
    payment_date: date
    type: str = "Payment"
    credit_id: int | None = None


@dataclass(frozen=True)
class Account:
    """A Xero chart-of-accounts entry (same chart in every organisation). `type` is
    Xero's AccountType; `system_account` Xero's SystemAccount when it is one."""

    code: str
    name: str
    type: str
    tax_type: str
    system_account: str | None = None
    bank_account_number: str | None = None


@dataclass(frozen=True)
class TaxRate:
    """A Xero (Australian GST) tax rate; `rate` in percent."""

    tax_type: str
    name: str
    rate: Decimal
    can_apply_to_revenue: bool
    can_apply_to_expenses: bool
    can_apply_to_assets: bool = True
    can_apply_to_liabilities: bool = True
    can_apply_to_equity: bool = True


@dataclass(frozen=True)
class TrackingCategory:
    name: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class XeroContact:
    """A company's contact in one Xero organisation (by short name, see identity.py).
    `account_number` is the ConnectWise company identifier."""

    organisation: str
    company_id: int
    name: str
    account_number: str
    email: str
    is_supplier: bool


@dataclass(frozen=True)
class XeroPaymentPlan:
    """A payment Xero should come to hold once the invoice numbered `invoice_number`
    exists there: kind is full, partial, over (above the amount due) or unmatchable
    (its invoice number and amount match nothing in ConnectWise)."""

    organisation: str
    invoice_number: str
    amount: Decimal
    payment_date: date
    kind: str


@dataclass
class Msp:
    """Everything both simulators serve. ConnectWise side: locations .. payments.
    Xero side: organisations (identity.ORGANISATIONS), accounts, tax_rates,
    tracking_categories, xero_contacts, xero_payments. Lists are ordered by id."""

    name: str
    anchor: date
    locations: list[Location]
    departments: list[Department]
    members: list[Member]
    tax_codes: list[TaxCode]
    companies: list[Company]
    catalog: list[CatalogItem]
    invoices: list[Invoice]
    purchase_orders: list[PurchaseOrder]
    payments: list[Payment]
    accounts: list[Account]
    tax_rates: list[TaxRate]
    tracking_categories: list[TrackingCategory]
    xero_contacts: list[XeroContact]
    xero_payments: list[XeroPaymentPlan]
    organisations: tuple = ORGANISATIONS
    next_ids: dict[str, int] = field(default_factory=dict)

    def company(self, company_id: int) -> Company:
        return self._companies[company_id]

    def location(self, location_id: int) -> Location:
        return next(loc for loc in self.locations if loc.id == location_id)

    def organisation_for(self, company: Company, location_id: int | None = None) -> str:
        """The routing intent: tag first, then the record's (or company's) location."""
        if company.xero_entity == "Holdings":
            return "holdings"
        return self.location(location_id or company.location_id).organisation

    def __post_init__(self) -> None:
        self._companies = {c.id: c for c in self.companies}
