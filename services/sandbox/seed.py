"""The synthetic MSP both simulators serve: "Harbour IT", four Australian offices and
one in New Zealand, four Xero organisations. `generate(seed, scale)` is deterministic: the same seed,
scale and anchor give the same records, ids and amounts every time. The record
classes (plain dataclasses, documented) live in seed_model.py and are
re-exported here.

Routing intent (what the product's routing rules should express): a company
whose custom field "Xero Entity" is "Holdings" -> the Holdings organisation;
otherwise by location: Adelaide -> Adelaide; Sydney, Melbourne, Brisbane ->
Sydney; Auckland -> Auckland (Harbour IT New Zealand, whose customers are billed in
NZD at the rate the MSP records on each invoice, with New Zealand's 15% GST).
Vendors exist as supplier contacts in every organisation; most (not all)
customers have a contact in their organisation, so the demo shows a
missing-contact exception.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from .seed_model import (  # noqa: F401  (re-exported for the simulators)
    CREDIT_APPLIED,
    PAYMENT,
    REFUND,
    XERO_ENTITY_FIELD_ID,
    Account,
    CatalogItem,
    Company,
    Department,
    Invoice,
    InvoiceLine,
    Location,
    Member,
    Msp,
    Payment,
    PurchaseOrder,
    PurchaseOrderLine,
    TaxCode,
    TaxRate,
    TrackingCategory,
    XeroContact,
    XeroPaymentPlan,
    money,
    recorded_rate,
)

DEFAULT_ANCHOR = date(2026, 11, 20)  # "today" of the data unless the caller passes one
D = Decimal

AU_LOCATIONS = [
    Location(1, "Adelaide", "adelaide"),
    Location(2, "Sydney", "sydney"),
    Location(3, "Melbourne", "sydney"),
    Location(4, "Brisbane", "sydney"),
]
AUCKLAND = Location(5, "Auckland", "auckland", "NZD")
LOCATIONS = [*AU_LOCATIONS, AUCKLAND]
DEPARTMENTS = [
    Department(1, "MS", "Managed Services"),
    Department(2, "PRJ", "Projects"),
    Department(3, "SD", "Service Desk"),
    Department(4, "AM", "Account Management"),
]
STAFF = [  # first, last, location, department
    ("Olivia", "Nguyen", 1, 4),
    ("Jack", "Thompson", 1, 1),
    ("Mia", "Kowalski", 1, 3),
    ("Liam", "O'Brien", 2, 4),
    ("Charlotte", "Singh", 2, 2),
    ("Noah", "Williams", 2, 1),
    ("Amelia", "Rossi", 3, 4),
    ("William", "Chen", 3, 3),
    ("Isla", "Papadopoulos", 3, 2),
    ("Henry", "Walker", 4, 4),
    ("Grace", "Murphy", 4, 1),
    ("Lucas", "Tran", 4, 3),
    ("Aroha", "Ngata", 5, 4),
    ("Tama", "Reid", 5, 1),
]
TAX_CODES = [
    TaxCode(1, "GST", D("10.00"), "OUTPUT", "INPUT"),
    TaxCode(2, "GST Free", D("0.00"), "EXEMPTOUTPUT", "EXEMPTEXPENSES"),
    TaxCode(3, "GST NZ", D("15.00"), "OUTPUT2", "INPUT2"),
]
CATALOG = [  # identifier, description, class, price, cost, account, cost account, service line
    (
        "MS-DESKTOP",
        "Managed desktop support - per seat per month",
        "Agreement",
        "95.00",
        "22.00",
        "210",
        "310",
        "Managed Services",
    ),
    (
        "MS-SERVER",
        "Managed server - per server per month",
        "Agreement",
        "295.00",
        "64.00",
        "210",
        "310",
        "Managed Services",
    ),
    ("MS-BACKUP", "Cloud backup - per TB per month", "Agreement", "120.00", "46.00", "210", "310", "Managed Services"),
    (
        "SEC-EDR",
        "Endpoint detection and response - per device",
        "Agreement",
        "9.50",
        "4.10",
        "210",
        "310",
        "Managed Services",
    ),
    (
        "M365-BP",
        "Microsoft 365 Business Premium licence (monthly)",
        "NonInventory",
        "36.30",
        "32.90",
        "230",
        "330",
        "Cloud & Licensing",
    ),
    (
        "M365-BS",
        "Microsoft 365 Business Standard licence (monthly)",
        "NonInventory",
        "18.70",
        "16.90",
        "230",
        "330",
        "Cloud & Licensing",
    ),
    ("O365-E3", "Office 365 E3 licence (monthly)", "NonInventory", "54.50", "49.40", "230", "330", "Cloud & Licensing"),
    (
        "HW-LAPTOP",
        "Dell Latitude 5450 laptop, i7, 16GB, 512GB SSD",
        "Inventory",
        "1895.00",
        "1540.00",
        "220",
        "320",
        "Hardware",
    ),
    ("HW-MONITOR", "Dell P2725H 27in monitor", "Inventory", "389.00", "295.00", "220", "320", "Hardware"),
    ("HW-FIREWALL", "Fortinet FortiGate 60F firewall", "Inventory", "1450.00", "1120.00", "220", "320", "Hardware"),
    (
        "HW-SWITCH",
        "Aruba Instant On 1930 24-port PoE switch",
        "Inventory",
        "980.00",
        "760.00",
        "220",
        "320",
        "Hardware",
    ),
    ("HW-DOCK", "Dell WD22TB4 Thunderbolt dock", "Inventory", "329.00", "240.00", "220", "320", "Hardware"),
    ("LAB-PROJECT", "Project labour - engineer (hourly)", "Service", "195.00", "0.00", "240", "310", "Projects"),
    ("LAB-PM", "Project management (hourly)", "Service", "175.00", "0.00", "240", "310", "Projects"),
    ("LAB-ONSITE", "On-site support (hourly)", "Service", "165.00", "0.00", "200", "310", "Support"),
    ("LAB-AFTERHRS", "After-hours support (hourly)", "Service", "245.00", "0.00", "200", "310", "Support"),
    ("MISC-CALLOUT", "Call-out fee", "NonInventory", "85.00", "0.00", "260", "310", "Support"),
]
ACCOUNTS = [
    Account("090", "Business Bank Account", "BANK", "BASEXCLUDED", bank_account_number="062000 12345678"),
    Account("200", "Sales", "REVENUE", "OUTPUT"),
    Account("210", "Managed Services", "REVENUE", "OUTPUT"),
    Account("220", "Hardware Sales", "REVENUE", "OUTPUT"),
    Account("230", "Software Licensing", "REVENUE", "OUTPUT"),
    Account("240", "Project Services", "REVENUE", "OUTPUT"),
    Account("260", "Other Revenue", "OTHERINCOME", "OUTPUT"),
    Account("270", "Interest Income", "OTHERINCOME", "EXEMPTOUTPUT"),
    Account("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT"),
    Account("320", "Hardware Purchases", "DIRECTCOSTS", "INPUT"),
    Account("330", "Licence Costs", "DIRECTCOSTS", "INPUT"),
    Account("400", "Advertising", "EXPENSE", "INPUT"),
    Account("404", "Bank Fees", "EXPENSE", "EXEMPTEXPENSES"),
    Account("412", "Consulting & Accounting", "EXPENSE", "INPUT"),
    Account("429", "General Expenses", "EXPENSE", "INPUT"),
    Account("469", "Rent", "EXPENSE", "INPUT"),
    Account("489", "Telephone & Internet", "EXPENSE", "INPUT"),
    Account("493", "Travel - National", "EXPENSE", "INPUT"),
    Account("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED", system_account="DEBTORS"),
    Account("800", "Accounts Payable", "CURRLIAB", "BASEXCLUDED", system_account="CREDITORS"),
    Account("820", "GST", "CURRLIAB", "BASEXCLUDED", system_account="GST"),
    Account("960", "Retained Earnings", "EQUITY", "BASEXCLUDED", system_account="RETAINEDEARNINGS"),
]
TAX_RATES = [
    TaxRate("OUTPUT", "GST on Income", D("10.00"), True, False),
    TaxRate("INPUT", "GST on Expenses", D("10.00"), False, True),
    TaxRate("EXEMPTOUTPUT", "GST Free Income", D("0.00"), True, False),
    TaxRate("EXEMPTEXPENSES", "GST Free Expenses", D("0.00"), False, True),
    TaxRate("BASEXCLUDED", "BAS Excluded", D("0.00"), True, True),
    # New Zealand's GST, for the Auckland office's customers.
    TaxRate("OUTPUT2", "15% GST on Income", D("15.00"), True, False),
    TaxRate("INPUT2", "15% GST on Expenses", D("15.00"), False, True),
]
TRACKING = [
    TrackingCategory("Region", tuple(loc.name for loc in LOCATIONS)),
    TrackingCategory("Service Line", ("Managed Services", "Cloud & Licensing", "Hardware", "Projects", "Support")),
]
VENDORS = [
    "Dell Technologies Australia",
    "Ingram Micro Australia",
    "Dicker Data",
    "Leader Computers",
    "Fortinet Distribution ANZ",
    "Pax8 Australia",
]
NAME_A = [
    "Coastal",
    "Southern",
    "Riverside",
    "Summit",
    "Harbourside",
    "Eastern",
    "Granite",
    "Bluegum",
    "Wattle",
    "Kestrel",
    "Pinnacle",
    "Redgum",
    "Ironbark",
    "Seaview",
    "Northgate",
    "Meridian",
]
NAME_B = [
    "Legal",
    "Dental",
    "Logistics",
    "Accounting",
    "Engineering",
    "Architects",
    "Medical",
    "Realty",
    "Freight",
    "Pharmacy",
    "Builders",
    "Wealth",
    "Vets",
    "Consulting",
    "Foods",
    "Plumbing",
]
NAME_C = ["Pty Ltd", "Group", "Partners", "Co", "Services"]
INVOICE_TYPES = [("Standard", 60), ("Agreement", 22), ("Miscellaneous", 8), ("Progress", 6), ("DownPayment", 4)]
NZ_NAMES = [
    "Kauri Legal",
    "Waitemata Dental",
    "Ponsonby Architects",
    "Tamaki Logistics",
    "Rangitoto Accounting",
    "Manukau Freight",
    "Hauraki Medical",
    "Pohutukawa Realty",
    "Takapuna Vets",
    "Onehunga Builders",
]
NZ_PRICE = D("1.10")  # the Auckland office's price list: the catalog's prices, in NZD, a tenth up


def generate(seed: int, scale: int, anchor: date = DEFAULT_ANCHOR) -> Msp:
    """The MSP for `seed` at `scale` (0 = a tiny set of a few dozen records;
    1 = ~60 companies, ~300 invoices; n = n times that). Records are dated in
    the 120 days before `anchor`."""
    if scale < 0:
        raise ValueError("scale: must be 0 or more")
    rng = random.Random(seed)
    members = [
        Member(
            i,
            f"{first[0]}{last}".lower().replace("'", ""),
            first,
            last,
            f"{first.lower()}.{last.lower().replace(chr(39), '')}@harbourit.com.au",
            loc,
            dep,
        )
        for i, (first, last, loc, dep) in enumerate(STAFF, start=1)
    ]
    catalog = [
        CatalogItem(i, c[0], c[1], c[2], D(c[3]), D(c[4]), c[5], c[6], c[7]) for i, c in enumerate(CATALOG, start=1)
    ]
    companies = _companies(rng, scale, members)
    customers = [c for c in companies if not c.is_vendor]
    invoices, next_line = _invoices(rng, scale, anchor, customers, members, catalog)
    payments = _payments(rng, anchor, invoices)
    pos = _purchase_orders(rng, scale, anchor, [c for c in companies if c.is_vendor], catalog)
    msp = Msp(
        "Harbour IT",
        anchor,
        list(LOCATIONS),
        list(DEPARTMENTS),
        members,
        list(TAX_CODES),
        companies,
        catalog,
        invoices,
        pos,
        payments,
        list(ACCOUNTS),
        list(TAX_RATES),
        list(TRACKING),
        [],
        [],
    )
    msp.xero_contacts = _xero_contacts(rng, msp)
    msp.xero_payments = _xero_payments(rng, msp)
    # Drawn after everything above (and from no random source), so the records above keep
    # their ids, numbers and amounts whatever happens here.
    msp.payments += _credit_memo_money(msp)
    # The New Zealand office, from a random source of its own: the Australian records above keep
    # their ids, numbers and amounts.
    next_line = _new_zealand_office(random.Random(f"nz-{seed}"), msp, scale, catalog, next_line)
    msp.next_ids = {
        "invoice": max(i.id for i in msp.invoices) + 1,
        "line": next_line,
        "payment": max((p.id for p in payments), default=0) + 1,
        "purchase_order": max(p.id for p in pos) + 1,
        "company": max(c.id for c in msp.companies) + 1,
        "invoice_number": 10001 + len(msp.invoices),
    }
    return msp


def _companies(rng: random.Random, scale: int, members: list[Member]) -> list[Company]:
    managers = {m.location_id: m.id for m in members if m.department_id == 4}
    count = max(6, 60 * scale)
    companies: list[Company] = []
    used: set[str] = set()
    for n in range(count):
        name = None
        while name is None or name in used:
            name = f"{rng.choice(NAME_A)} {rng.choice(NAME_B)} {rng.choice(NAME_C)}"
            if len(used) >= len(NAME_A) * len(NAME_B) * len(NAME_C):
                name = f"{name} {n}"
        used.add(name)
        location = AU_LOCATIONS[n % 4] if n < 4 else rng.choices(AU_LOCATIONS, weights=(30, 35, 20, 15))[0]
        # Every 8th company is tagged for the Holdings organisation; a few carry other tag values
        # that route nowhere special, as real tag fields do.
        tag = "Holdings" if n % 8 == 5 else ("Retail" if n % 17 == 3 else None)
        ident = "".join(w[0] for w in name.split()[:2]).upper() + f"{n + 1:04d}"
        companies.append(
            Company(
                250 + n,
                ident,
                name,
                location.id,
                managers[location.id],
                2 if n % 23 == 11 else 1,
                rng.choice(["Net 14", "Net 30", "Net 30", "Net 7"]),
                f"accounts@{ident.lower()}.example.com.au",
                tag,
            )
        )
    for k, vendor in enumerate(VENDORS):
        ident = vendor.split()[0].upper() + "V"
        companies.append(
            Company(
                250 + count + k,
                ident,
                vendor,
                2,
                managers[2],
                1,
                "Net 30",
                f"ar@{ident.lower()}.example.com",
                None,
                True,
            )
        )
    return companies


def _lines_for(rng: random.Random, kind: str, catalog: list[CatalogItem]) -> list[tuple[CatalogItem, Decimal]]:
    by_id = {c.identifier: c for c in catalog}
    pick = lambda *ids: [by_id[i] for i in ids]  # noqa: E731
    if kind == "Agreement":
        items = pick("MS-DESKTOP", "SEC-EDR") + rng.sample(
            pick("MS-SERVER", "MS-BACKUP", "M365-BP", "M365-BS", "O365-E3"), 2
        )
        seats = rng.randint(5, 80)
        return [
            (
                c,
                D(
                    seats
                    if c.identifier in ("MS-DESKTOP", "SEC-EDR", "M365-BP", "M365-BS", "O365-E3")
                    else rng.randint(1, 4)
                ),
            )
            for c in items
        ]
    if kind == "Standard":
        pool = pick(
            "HW-LAPTOP", "HW-MONITOR", "HW-FIREWALL", "HW-SWITCH", "HW-DOCK", "M365-BP", "LAB-ONSITE", "LAB-PROJECT"
        )
        return [
            (
                c,
                D(rng.randint(1, 12))
                if c.product_class != "Service"
                else D(rng.choice(["0.5", "1", "1.5", "2", "3.25", "6"])),
            )
            for c in rng.sample(pool, rng.randint(1, 4))
        ]
    if kind == "Miscellaneous":
        return [
            (c, D(rng.choice(["1", "1.5", "2"])))
            for c in pick("MISC-CALLOUT", rng.choice(["LAB-ONSITE", "LAB-AFTERHRS"]))[: rng.randint(1, 2)]
        ]
    if kind == "Progress":
        return [(by_id["LAB-PROJECT"], D(rng.randint(8, 60))), (by_id["LAB-PM"], D(rng.randint(2, 12)))]
    return [(by_id["LAB-PROJECT"], D(rng.randint(10, 40)))]  # DownPayment: a deposit against project labour


def _invoices(
    rng: random.Random,
    scale: int,
    anchor: date,
    customers: list[Company],
    members: list[Member],
    catalog: list[CatalogItem],
) -> tuple[list[Invoice], int]:
    count = max(12, 300 * scale)
    invoices: list[Invoice] = []
    line_id = 1
    types = [t for t, _ in INVOICE_TYPES]
    weights = [w for _, w in INVOICE_TYPES]
    for n in range(count):
        company = customers[n % len(customers)] if n < len(customers) else rng.choice(customers)
        # About one in twenty is a credit memo against an earlier invoice of the same company.
        earlier = [i for i in invoices[-40:] if i.company_id == company.id and i.type != "CreditMemo"]
        kind = "CreditMemo" if earlier and rng.random() < 0.25 else rng.choices(types, weights)[0]
        day = anchor - timedelta(days=int(120 * (count - n) / count) + rng.randint(0, 2))
        tax = TAX_CODES[company.tax_code_id - 1]
        if kind == "CreditMemo":
            source = rng.choice(earlier)
            credited = rng.choice(source.lines)
            qty = max(D(1), money(credited.quantity / 2).to_integral_value())
            lines = [
                InvoiceLine(
                    line_id,
                    credited.catalog_item_id,
                    f"Credit: {credited.description}",
                    qty,
                    -credited.price,
                    -credited.cost,
                    credited.taxable,
                )
            ]
            apply_to = source.id
        else:
            lines = []
            for item, qty in _lines_for(rng, kind, catalog):
                price = money(item.price * D(30) / 100) if kind == "DownPayment" else item.price
                desc = f"Deposit: {item.description}" if kind == "DownPayment" else item.description
                lines.append(InvoiceLine(line_id + len(lines), item.id, desc, qty, price, item.cost, item.taxable))
            apply_to = None
        line_id += len(lines)
        terms_days = int(company.billing_terms.split()[1])
        member = rng.choice([m for m in members if m.location_id == company.location_id])
        stamp = datetime.combine(day, time(9), tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 480))
        status = "Sent" if day < anchor - timedelta(days=3) else "New"
        invoices.append(
            Invoice(
                1001 + n,
                f"INV-{10001 + n}",
                kind,
                company.id,
                company.location_id,
                member.department_id,
                member.id,
                day,
                day + timedelta(days=terms_days),
                company.billing_terms,
                tax.id,
                tax.rate,
                status,
                lines,
                stamp,
                apply_to,
            )
        )
    return invoices, line_id


def _payments(rng: random.Random, anchor: date, invoices: list[Invoice]) -> list[Payment]:
    payments: list[Payment] = []
    for inv in invoices:
        if inv.type == "CreditMemo" or inv.date > anchor - timedelta(days=14) or rng.random() > 0.4:
            continue
        amount = inv.total if rng.random() < 0.75 else money(inv.total * D(rng.choice([25, 40, 50])) / 100)
        payments.append(
            Payment(len(payments) + 1, inv.id, amount, min(anchor, inv.date + timedelta(days=rng.randint(3, 20))))
        )
        if amount == inv.total:
            inv.status = "Paid"
    return payments


def _purchase_orders(rng, scale, anchor, vendors, catalog) -> list[PurchaseOrder]:
    goods = [c for c in catalog if c.product_class in ("Inventory", "NonInventory")]
    pos = []
    count = max(3, 40 * scale)
    for n in range(count):
        day = anchor - timedelta(days=int(120 * (count - n) / count))
        vendor = rng.choice(vendors)
        location = rng.choices(AU_LOCATIONS, weights=(30, 35, 20, 15))[0]
        lines = [
            PurchaseOrderLine(k + 1, item.id, item.description, D(rng.randint(1, 20)), item.cost)
            for k, item in enumerate(rng.sample(goods, rng.randint(1, 3)))
        ]
        stamp = datetime.combine(day, time(11), tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 300))
        pos.append(
            PurchaseOrder(
                501 + n,
                f"PO-{5001 + n}",
                day,
                vendor.id,
                f"{vendor.identifier[:3]}-{880000 + n * 7}",
                day + timedelta(days=rng.randint(1, 10)),
                location.id,
                1,
                D("10.00"),
                rng.choice(["Open", "Closed", "Closed"]),
                lines,
                stamp,
                money(rng.choice(["0", "0", "25", "49.50"])),
            )
        )
    return pos


def _xero_contacts(rng, msp: Msp) -> list[XeroContact]:
    # Roughly one customer in twelve has no Xero contact; one Sydney-routed customer with
    # invoices always lacks one, so even the tiny set shows the missing-contact exception.
    invoiced = [msp.company(i.company_id) for i in msp.invoices]
    always_missing = next(c.id for c in invoiced if msp.organisation_for(c) == "sydney")
    contacts = []
    for company in msp.companies:
        if not company.is_vendor and (company.id == always_missing or rng.random() < 0.08):
            continue
        orgs = [o.short for o in msp.organisations] if company.is_vendor else [msp.organisation_for(company)]
        contacts += [
            XeroContact(org, company.id, company.name, company.identifier, company.email, company.is_vendor)
            for org in orgs
        ]
    return contacts


def _xero_payments(rng, msp: Msp) -> list[XeroPaymentPlan]:
    plans = []
    paid = {p.invoice_id for p in msp.payments}
    open_invoices = [i for i in msp.invoices if i.status == "Sent" and i.type != "CreditMemo" and i.id not in paid]
    for n, inv in enumerate(open_invoices[: max(4, len(open_invoices) // 5)]):
        org = msp.organisation_for(msp.company(inv.company_id), inv.location_id)
        kind = ("full", "full", "partial", "over")[n % 4]
        amount = {"full": inv.total, "partial": money(inv.total / 2), "over": inv.total + D("50.00")}[kind]
        plans.append(
            XeroPaymentPlan(org, inv.invoice_number, amount, msp.anchor - timedelta(days=rng.randint(0, 5)), kind)
        )
    for k, org in enumerate(o.short for o in msp.organisations):
        plans.append(
            XeroPaymentPlan(
                org, f"XR-{9001 + k}", money(D(rng.randint(100, 900)) + D("0.37")), msp.anchor, "unmatchable"
            )
        )
    return plans


def _new_zealand_office(rng: random.Random, msp: Msp, scale: int, catalog: list[CatalogItem], line_id: int) -> int:
    """Auckland's customers (each with a contact in the New Zealand organisation) and their
    invoices in NZD, each with the rate the MSP recorded and New Zealand's GST; appended to
    the MSP's companies, contacts and invoices. Answers the next free line id."""
    staff = [m for m in msp.members if m.location_id == AUCKLAND.id]
    manager = next(m.id for m in staff if m.department_id == 4)
    tax = next(t for t in msp.tax_codes if t.name == "GST NZ")
    first_id = max(c.id for c in msp.companies) + 1
    customers = []
    for k in range(max(3, 8 * scale)):
        name = NZ_NAMES[k % len(NZ_NAMES)] + (f" {k // len(NZ_NAMES) + 1}" if k >= len(NZ_NAMES) else "") + " Ltd"
        ident = "".join(w[0] for w in name.split()[:2]).upper() + f"NZ{k + 1:02d}"
        customers.append(
            Company(
                first_id + k,
                ident,
                name,
                AUCKLAND.id,
                manager,
                tax.id,
                rng.choice(["Net 14", "Net 30", "Net 30"]),
                f"accounts@{ident.lower()}.example.co.nz",
                currency=AUCKLAND.currency,
            )
        )
    msp.companies += customers
    msp.__post_init__()  # the company index
    msp.xero_contacts += [
        XeroContact(AUCKLAND.organisation, c.id, c.name, c.identifier, c.email, False) for c in customers
    ]
    count = max(3, 20 * scale)
    first_invoice = max(i.id for i in msp.invoices) + 1
    for n in range(count):
        company = customers[n % len(customers)] if n < len(customers) else rng.choice(customers)
        kind = rng.choices(["Standard", "Agreement", "Miscellaneous"], [6, 3, 1])[0]
        day = msp.anchor - timedelta(days=int(120 * (count - n) / count) + rng.randint(0, 2))
        lines = []
        for item, qty in _lines_for(rng, kind, catalog):
            lines.append(
                InvoiceLine(
                    line_id,
                    item.id,
                    item.description,
                    qty,
                    money(item.price * NZ_PRICE),
                    money(item.cost * NZ_PRICE),
                    item.taxable,
                )
            )
            line_id += 1
        member = rng.choice(staff)
        stamp = datetime.combine(day, time(9), tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 480))
        msp.invoices.append(
            Invoice(
                first_invoice + n,
                f"INV-{10001 + len(msp.invoices)}",
                kind,
                company.id,
                AUCKLAND.id,
                member.department_id,
                member.id,
                day,
                day + timedelta(days=int(company.billing_terms.split()[1])),
                company.billing_terms,
                tax.id,
                tax.rate,
                "Sent" if day < msp.anchor - timedelta(days=3) else "New",
                lines,
                stamp,
                currency=AUCKLAND.currency,
                exchange_rate=recorded_rate(AUCKLAND.currency, day),
            )
        )
    return line_id


MAX_CREDIT_APPLICATIONS, MAX_REFUNDS = 3, 2


def _credit_memo_money(msp: Msp) -> list[Payment]:
    """Credit memos applied to the invoice they credit, and refunds, after the seed's payments.

    Walking the credit memos in id order (no random draws, so nothing above moves):
    - a memo whose invoice is already paid in full, or will be paid in full in Xero (a Xero
      payment plan names it), is refunded: the customer gets the credit back as money
      (`Refund` under the memo; the first refund is the whole credit, the second half of it);
    - any other memo whose invoice is still open by more than the credit is applied to it
      (`Credit Memo` under the invoice, `credit` naming the memo): the customer first paid
      part of the invoice, then disputed a line, and the memo settles it. The first and third
      applications use the whole credit and the payment covers the rest, so the invoice closes
      (status Paid); the second uses half the credit and leaves both open.
    Every credited invoice thus carries a payment too. Memos and invoices that end with a
    zero balance become Paid, as a payment that settles an invoice makes it."""
    by_id = {i.id: i for i in msp.invoices}
    planned = {p.invoice_number for p in msp.xero_payments}
    paid: dict[int, Decimal] = {}
    for pay in msp.payments:
        paid[pay.invoice_id] = paid.get(pay.invoice_id, D(0)) + pay.amount
    next_id = max((p.id for p in msp.payments), default=0) + 1
    added: list[Payment] = []
    applications = refunds = 0

    def add(invoice_id: int, amount: Decimal, day: date, kind: str, credit_id: int | None = None) -> None:
        nonlocal next_id
        added.append(Payment(next_id, invoice_id, amount, min(day, msp.anchor), kind, credit_id))
        next_id += 1

    for memo in msp.invoices:
        source = by_id.get(memo.apply_to_id) if memo.apply_to_id is not None else None
        if memo.type != "CreditMemo" or source is None:
            continue
        credit = -memo.total
        open_amount = source.total - paid.get(source.id, D(0))
        if open_amount == 0 or source.invoice_number in planned:
            if refunds == MAX_REFUNDS:
                continue
            amount = credit if refunds == 0 else money(credit / 2)
            add(memo.id, amount, memo.date + timedelta(days=7), REFUND)
            memo.status = "Paid" if amount == credit else memo.status
            refunds += 1
        elif open_amount > credit and applications < MAX_CREDIT_APPLICATIONS:
            applied = credit if applications % 2 == 0 else money(credit / 2)
            received = open_amount - credit if applied == credit else money((open_amount - applied) / 2)
            between = source.date + (memo.date - source.date) / 2
            add(source.id, received, between, PAYMENT)
            add(source.id, applied, memo.date + timedelta(days=2), CREDIT_APPLIED, memo.id)
            paid[source.id] = paid.get(source.id, D(0)) + received + applied
            source.status = "Paid" if received + applied == open_amount else source.status
            memo.status = "Paid" if applied == credit else memo.status
            applications += 1
    return added
