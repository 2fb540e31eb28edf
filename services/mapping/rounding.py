"""Totals to the cent: a Xero document that totals exactly what ConnectWise says.

ConnectWise rounds a document once, on its total (tax on the taxable subtotal);
Xero rounds every line (its amount, and the tax on it) and adds the rounded lines
up. The two can differ by a cent or so a line. Xero lets a line's `TaxAmount` be
given instead of computed, and a document carry a line of its own, so:

- a tax difference of at most a cent per taxed line is made up by giving the taxed
  lines their `TaxAmount`, each within a cent of what Xero would compute (the lines
  whose exact tax was nearest the other way take the cents);
- a difference in the lines' amounts of at most a cent per line becomes a rounding
  line, untaxed, to the organisation's rounding account;
- anything larger is not rounding: it is a `Gap`, and the record an exception,
  never a document that silently totals something else.

Pure: amounts in, the adjustment (or the gap) out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def tolerance(lines: int) -> Decimal:
    """How far two roundings of the same document may fall apart: a cent a line."""
    return CENT * max(1, lines)


def xero_line_amount(quantity: Decimal, unit: Decimal) -> Decimal:
    return cents(quantity * unit)


def xero_line_tax(amount: Decimal, rate: Decimal) -> Decimal:
    """Tax Xero computes on one tax-exclusive line (rate in percent)."""
    return cents(amount * rate / 100)


@dataclass(frozen=True)
class Settlement:
    """What to write so Xero totals ConnectWise's figures."""

    taxes: tuple[Decimal | None, ...]  # each line's TaxAmount to give, None: Xero computes it as usual
    rounding: Decimal  # the amount of a rounding line; zero: none is needed
    subtotal: Decimal  # what Xero will hold, rounding line included
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


@dataclass(frozen=True)
class Gap:
    """A difference rounding cannot explain; `field` names the ConnectWise figure."""

    field: str
    value: Decimal
    message: str


def settle(amounts: list[Decimal], rates: list[Decimal], total: Decimal, tax: Decimal) -> Settlement | Gap:
    """`amounts`: each line's amount as Xero rounds it; `rates`: its tax rate in percent (0 when untaxed);
    `total`, `tax`: ConnectWise's document total and tax, positive."""
    total, tax = cents(total), cents(tax)
    computed = [xero_line_tax(a, r) if r else ZERO for a, r in zip(amounts, rates, strict=True)]
    taxed = [i for i, r in enumerate(rates) if r]
    tax_gap = tax - sum(computed, ZERO)
    if abs(tax_gap) > CENT * len(taxed):
        return Gap(
            "sales_tax",
            tax,
            f"ConnectWise tax {tax} differs from the {sum(computed, ZERO)} Xero computes "
            "with the mapped tax types, by more than a cent a taxed line",
        )
    written: dict[int, Decimal] = {}  # line -> the tax amount written on it
    if tax_gap:
        # Every taxed line gets its amount written, so the document no longer depends on Xero's own rounding.
        written = {i: computed[i] for i in taxed}
        step = CENT if tax_gap > 0 else -CENT
        exact = {i: amounts[i] * rates[i] / 100 - computed[i] for i in taxed}  # how far each rounded the other way
        nearest = sorted(taxed, key=lambda i: (-exact[i] if step > 0 else exact[i], i))
        for i in nearest[: int(abs(tax_gap) / CENT)]:
            written[i] += step
    taxes = [written.get(i) for i in range(len(amounts))]
    lines_total = sum(amounts, ZERO)
    rounding = total - tax - lines_total
    if abs(rounding) > tolerance(len(amounts)):
        return Gap(
            "total",
            total,
            f"ConnectWise total {total} (tax {tax}) is not what its lines add up to "
            f"({lines_total} before tax): the difference of {rounding} is more than rounding",
        )
    return Settlement(tuple(taxes), rounding, lines_total + rounding, tax)
