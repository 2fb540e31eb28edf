"""Makes a mapped document's lines total exactly ConnectWise's figures (rules in
`rounding.py`): each taxed line's `TaxAmount` when the tax needs a cent moved, a
rounding line to the organisation's rounding account when the lines' amounts do, or
the problem that stops the record when no rounding can explain the difference."""

from __future__ import annotations

from decimal import Decimal

from .model import MappingProblem, OrgMapping
from .rounding import Gap, settle

ROUNDING_DESCRIPTION = "Rounding"


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def settle_lines(
    record: dict, org: OrgMapping, side: str, items: list[dict], amounts: list[Decimal], rates: list[Decimal]
) -> tuple[Decimal, Decimal] | MappingProblem:
    """Adjusts `items` (the element's LineItems) in place; returns (subtotal, tax) as Xero will hold them."""
    total, tax = abs(record["total"]), abs(record["sales_tax"])
    result = settle(amounts, rates, total, tax)
    if isinstance(result, Gap):
        kind = "tax_mismatch" if result.field == "sales_tax" else "total_mismatch"
        return MappingProblem(kind, result.field, _money(result.value), result.message)
    for item, given in zip(items, result.taxes, strict=True):
        if given is not None:
            item["TaxAmount"] = _money(given)
    if result.rounding:
        line = _rounding_line(org, side, result.rounding)
        if isinstance(line, MappingProblem):
            return line
        items.append(line)
    return result.subtotal, result.tax


def _rounding_line(org: OrgMapping, side: str, amount: Decimal) -> dict | MappingProblem:
    code = org.settings.rounding_account
    account = org.catalog.accounts.get(code or "")
    tax_type = org.tax.get((side, "exempt"))
    why = None
    if not code:
        why = "no rounding account is set: set rounding_account_code in the organisation's sync settings"
    elif account is None or account.status != "ACTIVE":
        why = f"its rounding account {code} is not an active account in the catalog"
    elif tax_type is None or tax_type not in org.catalog.tax_rates:
        why = f"no {side} tax type is mapped for non-taxable lines ('exempt') to put on the rounding line"
    if why:
        return MappingProblem(
            "total_mismatch",
            "total",
            _money(abs(amount)),
            f"the lines round to {_money(amount)} away from ConnectWise's total, which a rounding "
            f"line makes up, but {why}; then force-sync the record",
        )
    return {
        "Description": ROUNDING_DESCRIPTION,
        "Quantity": "1",
        "UnitAmount": _money(amount),
        "AccountCode": code,
        "TaxType": tax_type,
        "TaxAmount": "0.00",
    }
