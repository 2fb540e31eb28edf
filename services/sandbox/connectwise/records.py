"""Render the synthetic MSP's records in ConnectWise's shape (camelCase, small
reference objects, custom-field arrays, `_info`). Records stay native inside the
simulator (Decimal money, aware datetimes) and become JSON only on the way out
(see render.py), so conditions compare real values."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from .. import seed_model as m

INVOICE_STATUSES = {"New": 1, "Sent": 2, "Paid": 3, "Void": 4}
PO_STATUSES = {"Open": 1, "Closed": 2, "Cancelled": 3}
INVOICE_TYPES = ("Standard", "CreditMemo", "DownPayment", "Miscellaneous", "Progress", "Agreement")
# Published values of Invoice.applyToType: what the invoice bills (an agreement, a project, a
# ticket...). There is no "Invoice": ConnectWise links a credit memo to the invoice it settles
# through a "Credit Memo" payment under that invoice (see money.py). A credit memo here is
# applyToType "All" and keeps in applyToId the id of the invoice it was raised against, so a
# client sees the intent before any credit is applied (applyToId is a free number in the
# published model; the product does not read it).
APPLY_TO_TYPES = ("All", "Agreement", "Project", "ProjectPhase", "SalesOrder", "Ticket")
TERMS = {"Net 7": 1, "Net 14": 2, "Net 30": 3}
CURRENCY = {
    "id": 1,
    "symbol": "$",
    "currencyCode": "AUD",
    "decimalSeparator": ".",
    "numberOfDecimals": 2,
    "name": "Australian Dollar",
}
CURRENCY_IDS = {"AUD": 1, "NZD": 2}
STATES = {
    "Adelaide": ("SA", "5000"),
    "Sydney": ("NSW", "2000"),
    "Melbourne": ("VIC", "3000"),
    "Brisbane": ("QLD", "4000"),
    "Auckland": ("AUK", "1010"),
}
COUNTRIES = {"AUD": {"id": 7, "name": "Australia"}, "NZD": {"id": 9, "name": "New Zealand"}}
UPDATED_BY = "cwapi"


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def currency(code: str) -> dict[str, Any]:
    """A currency reference as ConnectWise shows it on a company or an invoice."""
    return {**CURRENCY, "id": CURRENCY_IDS[code], "currencyCode": code, "name": m.CURRENCY_NAMES[code]}


def exchange_rate_field(rate: Decimal | None) -> dict[str, Any]:
    """The "Exchange Rate" custom field the MSP fills on an invoice in another currency."""
    return {
        "id": m.EXCHANGE_RATE_FIELD_ID,
        "caption": "Exchange Rate",
        "type": "Number",
        "entryMethod": "EntryField",
        "numberOfDecimals": 6,
        "value": None if rate is None else str(rate),
    }


def info(stamp: datetime, by: str = UPDATED_BY) -> dict[str, Any]:
    return {"lastUpdated": stamp, "updatedBy": by}


def custom_field(value: str | None, caption: str = "Xero Entity") -> dict[str, Any]:
    return {
        "id": m.XERO_ENTITY_FIELD_ID,
        "caption": caption,
        "type": "Text",
        "entryMethod": "EntryField",
        "numberOfDecimals": 0,
        "value": value,
    }


def company_ref(company: dict[str, Any]) -> dict[str, Any]:
    return {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}


def location(loc: m.Location, stamp: datetime) -> dict[str, Any]:
    return {"id": loc.id, "name": loc.name, "_info": info(stamp)}


def department(dep: m.Department, stamp: datetime) -> dict[str, Any]:
    return {"id": dep.id, "identifier": dep.identifier, "name": dep.name, "_info": info(stamp)}


def member(mem: m.Member, msp: m.Msp, stamp: datetime) -> dict[str, Any]:
    dep = next(d for d in msp.departments if d.id == mem.department_id)
    return {
        "id": mem.id,
        "identifier": mem.identifier,
        "firstName": mem.first_name,
        "lastName": mem.last_name,
        "officeEmail": mem.email,
        "inactiveFlag": False,
        "licenseClass": "F",
        "defaultEmail": "Office",
        "defaultPhone": "Office",
        # The published Member requires these screen preferences; these are ConnectWise's defaults.
        "agreementInvoicingDisplayOptions": "RemainOnInvoicingScreen",
        "invoicingDisplayOptions": "RemainOnInvoicingScreen",
        "invoiceScreenDefaultTabFormat": "ShowInvoicingTab",
        "defaultLocation": {"id": mem.location_id, "name": msp.location(mem.location_id).name},
        "defaultDepartment": {"id": dep.id, "identifier": dep.identifier, "name": dep.name},
        "_info": info(stamp),
    }


def company(co: m.Company, msp: m.Msp, stamp: datetime) -> dict[str, Any]:
    tax = next(t for t in msp.tax_codes if t.id == co.tax_code_id)
    manager = next(x for x in msp.members if x.id == co.account_manager_id)
    kind = {"id": 5, "name": "Vendor"} if co.is_vendor else {"id": 1, "name": "Client"}
    loc = msp.location(co.location_id)
    return {
        "id": co.id,
        "identifier": co.identifier,
        "name": co.name,
        "status": {"id": 1, "name": "Active"},
        "types": [kind],
        "addressLine1": f"{10 + co.id % 190} {('King', 'George', 'Collins', 'Queen')[co.id % 4]} Street",
        "city": loc.name,
        "state": STATES[loc.name][0],
        "zip": STATES[loc.name][1],
        "country": COUNTRIES[co.currency],
        "phoneNumber": f"08{co.id:08d}"[:10],
        "website": f"www.{co.identifier.lower()}.example.com.au",
        "accountNumber": co.identifier,
        "invoiceToEmailAddress": co.email,
        "taxCode": {"id": tax.id, "name": tax.name},
        "billingTerms": {"id": TERMS.get(co.billing_terms, 3), "name": co.billing_terms},
        "territoryManager": {
            "id": manager.id,
            "identifier": manager.identifier,
            "name": f"{manager.first_name} {manager.last_name}",
        },
        # The company's home office; ConnectWise keeps it on the company's site, the
        # simulator exposes it flat so routing per location has something to read.
        "locationId": loc.id,
        "deletedFlag": False,
        "currency": currency(co.currency),
        "customFields": [custom_field(co.xero_entity)],
        "_info": info(stamp),
    }


def invoice(inv: m.Invoice, msp: m.Msp, companies: dict[int, dict[str, Any]]) -> dict[str, Any]:
    co = companies[inv.company_id]
    tax = next(t for t in msp.tax_codes if t.id == inv.tax_code_id)
    dep = next(d for d in msp.departments if d.id == inv.department_id)
    return {
        "id": inv.id,
        "invoiceNumber": inv.invoice_number,
        "type": inv.type,
        "status": {"id": INVOICE_STATUSES[inv.status], "name": inv.status},
        "company": company_ref(co),
        "billToCompany": company_ref(co),
        "shipToCompany": company_ref(co),
        "applyToType": "All",
        "applyToId": inv.apply_to_id,
        "date": at_midnight(inv.date),
        "dueDate": at_midnight(inv.due_date),
        "billingTerms": {"id": TERMS.get(inv.billing_terms, 3), "name": inv.billing_terms},
        "reference": "",
        "customerPO": "",
        "location": {"id": inv.location_id, "name": msp.location(inv.location_id).name},
        "locationId": inv.location_id,
        "department": {"id": dep.id, "identifier": dep.identifier, "name": dep.name},
        "departmentId": dep.id,
        "territoryId": None,
        "taxCode": {"id": tax.id, "name": tax.name},
        "subtotal": Decimal("0.00"),
        "salesTax": Decimal("0.00"),
        "total": Decimal("0.00"),
        "payments": Decimal("0.00"),
        "credits": Decimal("0.00"),
        "balance": Decimal("0.00"),
        "currency": currency(inv.currency),
        "customFields": [custom_field(msp.company(inv.company_id).xero_entity)]
        + ([exchange_rate_field(inv.exchange_rate)] if inv.currency != m.BASE_CURRENCY else []),
        "_info": info(inv.updated_at),
    }


def product(
    line: m.InvoiceLine, seq: int, inv: dict[str, Any], msp_catalog: dict[int, m.CatalogItem]
) -> dict[str, Any]:
    item = msp_catalog[line.catalog_item_id]
    return product_from(
        line.id,
        item,
        seq,
        line.description,
        line.quantity,
        line.price,
        line.cost,
        line.taxable,
        inv,
        inv["_info"]["lastUpdated"],
    )


def product_from(
    pid: int,
    item: m.CatalogItem,
    seq: int,
    description: str,
    quantity: Decimal,
    price: Decimal,
    cost: Decimal,
    taxable: bool,
    inv: dict[str, Any],
    stamp: datetime,
) -> dict[str, Any]:
    return {
        "id": pid,
        "catalogItem": {"id": item.id, "identifier": item.identifier},
        "description": description,
        "customerDescription": description,
        "sequenceNumber": seq,
        "quantity": quantity,
        "price": price,
        "cost": cost,
        "extPrice": m.money(quantity * price),
        "extCost": m.money(quantity * cost),
        "taxableFlag": taxable,
        "productClass": item.product_class,
        "billableOption": "Billable",
        "invoice": {"id": inv["id"], "identifier": inv["invoiceNumber"]},
        "company": dict(inv["company"]),
        "locationId": inv["locationId"],
        "location": dict(inv["location"]),
        "businessUnitId": inv["departmentId"],
        "customFields": [],
        "_info": info(stamp),
    }


def invoice_ref(inv: dict[str, Any]) -> dict[str, Any]:
    return {"id": inv["id"], "identifier": inv["invoiceNumber"]}


def payment(pay: m.Payment, inv: dict[str, Any], stamp: datetime, memo: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Payment as listed under `inv`; `memo` is the credit memo a "Credit Memo" payment applies."""
    return {
        "id": pay.id,
        "type": pay.type,
        "invoice": invoice_ref(inv),
        "credit": invoice_ref(memo) if memo else None,
        "amount": pay.amount,
        "paymentDate": at_midnight(pay.payment_date),
        "appliedBy": "accounts",
        "_info": info(stamp),
    }


def purchase_order(po: m.PurchaseOrder, companies: dict[int, dict[str, Any]]) -> dict[str, Any]:
    vendor = companies[po.vendor_company_id]
    return {
        "id": po.id,
        "poNumber": po.po_number,
        "poDate": at_midnight(po.po_date),
        "vendorCompany": company_ref(vendor),
        "vendorInvoiceNumber": po.vendor_invoice_number,
        "vendorInvoiceDate": at_midnight(po.vendor_invoice_date),
        "status": {"id": PO_STATUSES[po.status], "name": po.status},
        "terms": {"id": 3, "name": "Net 30"},
        "locationId": po.location_id,
        "businessUnitId": 1,
        "subTotal": po.subtotal,
        "salesTax": po.sales_tax,
        "freightCost": po.freight_cost,
        "total": po.total,
        "closedFlag": po.status == "Closed",
        "taxCode": {"id": po.tax_code_id, "name": "GST"},
        "currency": dict(CURRENCY),
        "customFields": [],
        "_info": info(po.updated_at),
    }


def po_line(line: m.PurchaseOrderLine, lid: int, po: m.PurchaseOrder, item: m.CatalogItem) -> dict[str, Any]:
    ext = m.money(line.quantity * line.unit_cost)
    received = line.quantity if po.status == "Closed" else Decimal(0)
    return {
        "id": lid,
        "purchaseOrderId": po.id,
        "lineNumber": line.line_number,
        "product": {"id": item.id, "identifier": item.identifier},
        "description": line.description,
        "quantity": line.quantity,
        "unitCost": line.unit_cost,
        "tax": m.money(ext * po.tax_rate / 100) if line.taxable else Decimal("0.00"),
        "receivedQuantity": received,
        "receivedStatus": "FullyReceived" if received else "Waiting",
        "closedFlag": po.status == "Closed",
        "canceledFlag": False,
        "_info": info(po.updated_at),
    }
