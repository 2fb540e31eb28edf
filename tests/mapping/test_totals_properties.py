"""Totals to the cent, over many documents: whatever the lines, quantities, prices and tax
rate, the Xero document written for a ConnectWise invoice or credit memo totals exactly
what ConnectWise says, as Xero itself adds it up (the simulator's line-by-line rounding,
which follows Xero's published rules); without a rounding account, a difference the
lines cannot make up is a problem, never a document that totals something else."""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.mapping.model import Account, SyncSettings, TaxRate
from services.mapping.rounding import Settlement, settle
from services.mapping.translate import XeroDocument, translate
from services.sandbox.xero.documents import CREDIT_NOTE, INVOICE, normalize
from services.sandbox.xero.totals import recompute

from .records import australian_org, invoice

CENT = Decimal("0.01")
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=4)
rates = st.sampled_from([Decimal(r) for r in ("0", "5", "7.5", "8.25", "10", "12.5", "15", "17.5", "20", "25")])
lines = st.lists(st.tuples(quantities, prices, st.booleans()), min_size=1, max_size=12)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def connectwise_invoice(drawn: list[tuple[Decimal, Decimal, bool]], rate: Decimal, credit: bool) -> dict:
    """An invoice as ConnectWise totals it: tax once, on the taxable subtotal, each rounded once."""
    sign = Decimal(-1) if credit else Decimal(1)
    products = [{"id": i + 1, "description": f"Line {i + 1}", "catalog_item": None, "product_class": "Service",
                 "quantity": q, "price": sign * p, "cost": None, "taxable": taxed} for i, (q, p, taxed) in enumerate(drawn)]
    subtotal = cents(sum((q * p for q, p, _ in drawn), Decimal(0)))
    tax = cents(sum((q * p for q, p, taxed in drawn if taxed), Decimal(0)) * rate / 100)
    record = invoice(lines=products, sales_tax=sign * tax, total=sign * (subtotal + tax),
                     **({"record_type": "credit_note", "invoice_type": "CreditMemo"} if credit else {}))
    record["subtotal"] = sign * subtotal
    return record


def organisation(rate: Decimal, rounding_account: str | None = "860"):
    org = australian_org()
    org.catalog.tax_rates["OUTPUT"] = replace(org.catalog.tax_rates["OUTPUT"], rate=rate)
    org.catalog.accounts["860"] = Account("860", "Rounding", "EXPENSE")
    org.settings = SyncSettings(rounding_account=rounding_account)
    return org


def as_xero_totals_it(doc: XeroDocument, rate: Decimal) -> dict:
    """The element as the simulator stores it when written: parsed, then added up line by line."""
    kind = CREDIT_NOTE if doc.endpoint == "CreditNotes" else INVOICE
    stored, errors = normalize(kind, doc.element)
    assert not errors, errors
    recompute(stored, {"OUTPUT": {"EffectiveRate": rate}, "EXEMPTOUTPUT": {"EffectiveRate": Decimal(0)}})
    return stored


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines, rates, st.booleans())
@example([(Decimal("1"), Decimal("0.05"), True)] * 3, Decimal("10"), False)  # every line's tax rounds up
@example([(Decimal("0.3333"), Decimal("10.00"), True), (Decimal("0.3333"), Decimal("10.00"), False)],
         Decimal("15"), False)  # the lines' amounts round apart from the subtotal
def test_the_written_document_totals_exactly_what_connectwise_says(drawn, rate, credit):
    record = connectwise_invoice(drawn, rate, credit)
    doc = translate(record, organisation(rate), "AUTHORISED")
    assert isinstance(doc, XeroDocument), doc
    written = as_xero_totals_it(doc, rate)
    assert written["Total"] == abs(record["total"]) == doc.total
    assert written["TotalTax"] == abs(record["sales_tax"]) == doc.total_tax
    for line in doc.element["LineItems"]:
        if "TaxAmount" in line and line["Description"] != "Rounding":
            computed = cents(Decimal(line["UnitAmount"]) * Decimal(line["Quantity"]) * rate / 100)
            assert abs(Decimal(line["TaxAmount"]) - cents(computed)) <= CENT  # rounding, never a different tax


@settings(max_examples=200, deadline=None)
@given(lines, rates)
def test_without_a_rounding_account_the_total_is_exact_or_the_record_is_an_exception(drawn, rate):
    record = connectwise_invoice(drawn, rate, False)
    result = translate(record, organisation(rate, rounding_account=None))
    if isinstance(result, XeroDocument):
        assert as_xero_totals_it(result, rate)["Total"] == record["total"]
    else:
        assert [p.kind for p in result] == ["total_mismatch"] and "rounding account" in result[0].message


@given(st.lists(st.decimals(min_value=Decimal("-999"), max_value=Decimal("999"), places=2), min_size=1, max_size=8),
       rates, st.integers(min_value=-50, max_value=50), st.integers(min_value=-50, max_value=50))
def test_a_gap_beyond_a_cent_a_line_is_never_rounded_away(amounts, rate, total_cents, tax_cents):
    line_rates = [rate] * len(amounts)
    computed_tax = sum((cents(a * rate / 100) for a in amounts), Decimal(0))
    tax = computed_tax + tax_cents * CENT
    total = sum(amounts, Decimal(0)) + tax + total_cents * CENT
    result = settle(amounts, line_rates, total, tax)
    taxed = len(amounts) if rate else 0
    if abs(tax_cents) > taxed or abs(total_cents) > len(amounts):
        assert not isinstance(result, Settlement)
    else:
        assert isinstance(result, Settlement) and result.total == total and result.tax == tax
        assert result.rounding == total_cents * CENT


def test_a_tax_difference_moves_the_cent_of_the_line_nearest_to_rounding_the_other_way():
    # Xero taxes each line at 10%: 0.102, 0.104, 0.103 -> 0.10 each, 0.30; ConnectWise taxes 3.09 once: 0.31.
    result = settle([Decimal("1.02"), Decimal("1.04"), Decimal("1.03")], [Decimal(10)] * 3, Decimal("3.40"),
                    Decimal("0.31"))
    assert result.taxes == (Decimal("0.10"), Decimal("0.11"), Decimal("0.10"))  # 0.104 was nearest to 0.11
    assert result.rounding == 0 and result.total == Decimal("3.40")


def test_a_zero_total_invoice_stays_a_draft_so_it_can_be_changed_later():
    record = connectwise_invoice([(Decimal("1"), Decimal("0.00"), True)], Decimal(10), False)
    doc = translate(record, organisation(Decimal(10)), "AUTHORISED")
    assert doc.total == 0 and doc.element["Status"] == "DRAFT"


def test_a_tax_type_without_a_rate_takes_connectwise_tax_as_it_is():
    org = organisation(Decimal(10))
    org.catalog.tax_rates["OUTPUT"] = TaxRate("OUTPUT", "GST on Income", None, frozenset({"REVENUE"}))
    record = connectwise_invoice([(Decimal("3"), Decimal("3.33"), True)], Decimal(10), False)
    doc = translate(record, org)
    assert doc.total_tax == record["sales_tax"] and "TaxAmount" not in doc.element["LineItems"][0]
