"""ConnectWise records in the decoded Avro shape, for tests."""
from __future__ import annotations

from decimal import Decimal

from services.mapping.model import Account, Catalog, Contact, OrgMapping, TaxRate

D = Decimal


def invoice(number="INV-1001", cw_id=1001, *, location_id=1, member=None, account_manager=None, tags=(),
            lines=None, tax_code="GST", sales_tax=None, company=("ACME", "Acme Pty Ltd"), record_type="invoice",
            invoice_type="Standard", total=None, department_id=None, currency="AUD") -> dict:
    lines = lines if lines is not None else [
        {"id": 1, "description": "Managed services", "catalog_item": "MS-1", "product_class": "Service",
         "quantity": D("2.0000"), "price": D("150.0000"), "cost": None, "taxable": True},
        {"id": 2, "description": "Switch", "catalog_item": "SW-8", "product_class": "Hardware",
         "quantity": D("1.0000"), "price": D("99.9900"), "cost": D("60.0000"), "taxable": True},
    ]
    subtotal = sum((l["quantity"] * l["price"] for l in lines), D("0"))
    sales_tax = sales_tax if sales_tax is not None else sum(
        ((l["quantity"] * l["price"] * D("0.1")).quantize(D("0.01")) for l in lines if l["taxable"]), D("0"))
    return {
        "record_type": record_type, "cw_id": cw_id, "trigger": "SCHEDULE", "change": "UPSERT",
        "observed_at": 0, "last_updated": 0, "content_hash": f"h{cw_id}", "invoice_number": number,
        "invoice_type": invoice_type, "status": "Open", "company_id": 250, "company_identifier": company[0],
        "company_name": company[1], "date": "2026-11-02T00:00:00Z", "due_date": "2026-12-02T00:00:00Z",
        "location_id": location_id, "department_id": department_id, "member_identifier": member,
        "account_manager_identifier": account_manager, "currency": currency, "tax_code": tax_code,
        "subtotal": subtotal, "sales_tax": sales_tax, "total": total if total is not None else subtotal + sales_tax,
        "balance": subtotal + sales_tax,
        "custom_fields": [{"caption": c, "value": v} for c, v in tags], "lines": lines, "raw": "{}",
    }


def purchase_order(number="PO-77", cw_id=77, *, location_id=1, vendor=("DICKER", "Dicker Data"), freight=D("0")) -> dict:
    lines = [
        {"line_number": 1, "description": "Laptop", "product": "LT-1", "product_class": "Hardware",
         "quantity": D("3"), "unit_cost": D("1000.00"), "tax": D("300.00"), "canceled": False},
        {"line_number": 2, "description": "Cancelled dock", "product": "DK-1", "product_class": "Hardware",
         "quantity": D("1"), "unit_cost": D("200.00"), "tax": D("20.00"), "canceled": True},
    ]
    subtotal = D("3000.00") + freight
    tax = D("300.00") + (freight * D("0.1")).quantize(D("0.01"))
    return {
        "record_type": "procurement", "cw_id": cw_id, "trigger": "SCHEDULE", "change": "UPSERT",
        "observed_at": 0, "last_updated": 0, "content_hash": f"p{cw_id}", "po_number": number,
        "po_date": "2026-11-03T00:00:00Z", "status": "Open", "vendor_company_id": 900,
        "vendor_company_identifier": vendor[0], "vendor_company_name": vendor[1],
        "vendor_invoice_number": None, "vendor_invoice_date": None, "location_id": location_id,
        "department_id": None, "currency": "AUD", "tax_code": "GST", "subtotal": subtotal, "sales_tax": tax,
        "freight_cost": freight, "total": subtotal + tax, "closed": False, "custom_fields": [], "lines": lines,
        "raw": "{}",
    }


def australian_org(org_id="adelaide") -> OrgMapping:
    """An organisation with the usual Australian chart: 200 sales, 300 purchases, GST."""
    catalog = Catalog(
        accounts={
            "200": Account("200", "Sales", "REVENUE"),
            "210": Account("210", "Hardware sales", "REVENUE"),
            "300": Account("300", "Purchases", "EXPENSE"),
            "090": Account("090", "Bank", "ASSET"),
        },
        tax_rates={
            "OUTPUT": TaxRate("OUTPUT", "GST on Income", D("10"), frozenset({"REVENUE"})),
            "INPUT": TaxRate("INPUT", "GST on Expenses", D("10"), frozenset({"EXPENSE", "ASSET"})),
            "EXEMPTOUTPUT": TaxRate("EXEMPTOUTPUT", "GST Free Income", D("0"), frozenset({"REVENUE"})),
            "EXEMPTEXPENSES": TaxRate("EXEMPTEXPENSES", "GST Free Expenses", D("0"), frozenset({"EXPENSE"})),
        },
        tracking={"Region": frozenset({"South Australia", "New South Wales"}), "Department": frozenset({"Projects"})},
        contacts=[
            Contact("c-acme", "Acme Pty Ltd", "ACME"),
            Contact("c-dicker", "Dicker Data", None),
            Contact("c-old", "Old Co", "OLD", status="ARCHIVED"),
        ],
    )
    return OrgMapping(
        organisation_id=org_id, name=org_id.title(), tenant_id=f"tenant-{org_id}",
        accounts={("sales", "*"): "200", ("sales", "Hardware"): "210", ("purchases", "*"): "300"},
        tax={("sales", "GST"): "OUTPUT", ("sales", "exempt"): "EXEMPTOUTPUT",
             ("purchases", "GST"): "INPUT", ("purchases", "exempt"): "EXEMPTEXPENSES"},
        tracking={("location", "1"): ("Region", "South Australia"), ("location", "2"): ("Region", "New South Wales")},
        contacts={}, catalog=catalog,
    )
