"""Amounts the server recomputes from line items, as Xero does: line amount
from quantity, unit amount and discount; tax from the tax type's rate under the
document's LineAmountTypes; everything rounded to cents with Decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(line: dict[str, Any]) -> Decimal:
    quantity = line.get("Quantity", Decimal(1))
    unit = line.get("UnitAmount")
    if unit is None:
        return cents(line.get("LineAmount", ZERO))
    gross = quantity * unit
    discount = line.get("DiscountRate")
    if discount:
        gross = gross * (Decimal(100) - discount) / Decimal(100)
    return cents(gross)


def line_tax(amount: Decimal, rate: Decimal, line_amount_types: str) -> Decimal:
    if line_amount_types == "NoTax" or not rate:
        return ZERO
    if line_amount_types == "Inclusive":
        return cents(amount - amount * Decimal(100) / (Decimal(100) + rate))
    return cents(amount * rate / Decimal(100))


def recompute(doc: dict[str, Any], tax_rates: dict[str, dict]) -> None:
    """Fill LineAmount/TaxAmount per line and SubTotal/TotalTax/Total/AmountDue. A line's
    TaxAmount given in the request is kept: Xero's LineItem says it "can be overriden if the
    calculated TaxAmount is not correct" (a client makes its own rounding agree this way)."""
    kind = doc.get("LineAmountTypes", "Exclusive")
    subtotal = tax_total = ZERO
    for line in doc.get("LineItems", []):
        amount = line_amount(line)
        rate_record = tax_rates.get(line.get("TaxType") or "")
        rate = rate_record["EffectiveRate"] if rate_record else ZERO
        tax = cents(line["TaxAmount"]) if line.get("_tax_given") else line_tax(amount, rate, kind)
        line["LineAmount"] = amount
        line["TaxAmount"] = tax
        if line.get("UnitAmount") is None:
            line["UnitAmount"] = amount
            line.setdefault("Quantity", Decimal(1))
        subtotal += amount - tax if kind == "Inclusive" else amount
        tax_total += tax
    doc["SubTotal"] = cents(subtotal)
    doc["TotalTax"] = cents(tax_total)
    doc["Total"] = cents(subtotal + tax_total)
    refresh_balance(doc)


def refresh_balance(doc: dict[str, Any]) -> None:
    """Credit notes carry RemainingCredit (total less what was allocated);
    invoices AmountDue (total less payments and credits)."""
    if "CreditNoteID" in doc:
        doc["RemainingCredit"] = cents(doc["Total"] - doc.setdefault("AppliedAmount", ZERO))
        return
    paid = doc.setdefault("AmountPaid", ZERO)
    credited = doc.setdefault("AmountCredited", ZERO)
    doc["AmountDue"] = cents(doc["Total"] - paid - credited)
