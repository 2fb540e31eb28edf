"""The synthetic MSP: deterministic, scalable, consistent money, and the
routing and missing-contact cases the demo relies on."""
from decimal import Decimal

from services.sandbox.seed import generate


def test_same_seed_same_data_and_other_seed_differs():
    a, b, c = generate(11, 1), generate(11, 1), generate(12, 1)
    assert [(i.invoice_number, i.total) for i in a.invoices] == [(i.invoice_number, i.total) for i in b.invoices]
    assert [i.total for i in a.invoices] != [i.total for i in c.invoices]


def test_scale_sets_the_size():
    tiny, one, three = generate(7, 0), generate(7, 1), generate(7, 3)
    assert len(tiny.invoices) < 20 and len(tiny.companies) < 20
    australian = lambda msp: [i for i in msp.invoices if i.location_id != 5]  # noqa: E731
    assert len(australian(one)) == 300 and len(australian(three)) == 900
    assert len(one.invoices) == 320 and len(three.invoices) == 960  # and Auckland's
    assert len(three.companies) > len(one.companies) > 60


def test_msp_shape():
    msp = generate(7, 1)
    assert [l.name for l in msp.locations] == ["Adelaide", "Sydney", "Melbourne", "Brisbane", "Auckland"]
    assert len(msp.members) == 14 and {m.location_id for m in msp.members} == {1, 2, 3, 4, 5}
    assert {i.type for i in msp.invoices} == {"Standard", "Agreement", "Miscellaneous", "Progress",
                                               "DownPayment", "CreditMemo"}
    assert {c.code for c in msp.accounts} >= {"090", "200", "210", "220", "310"}
    assert {t.tax_type: t.rate for t in msp.tax_rates}["OUTPUT"] == Decimal("10.00")
    assert [t.name for t in msp.tracking_categories] == ["Region", "Service Line"]
    assert msp.purchase_orders and all(msp.company(p.vendor_company_id).is_vendor for p in msp.purchase_orders)


def test_money_is_decimal_in_cents_and_credit_memos_are_negative():
    msp = generate(7, 1)
    for inv in msp.invoices:
        assert inv.total == inv.subtotal + inv.sales_tax
        assert inv.total.as_tuple().exponent == -2
        assert (inv.total < 0) == (inv.type == "CreditMemo")
    by_id = {i.id: i for i in msp.invoices}
    used = {i.id: Decimal(0) for i in msp.invoices}  # paid or credited; for a memo, refunded or applied
    for pay in msp.payments:
        assert pay.amount > 0 and pay.amount.as_tuple().exponent == -2
        used[pay.invoice_id] += pay.amount
        if pay.credit_id is not None:
            used[pay.credit_id] += pay.amount
    for inv_id, amount in used.items():
        assert amount <= abs(by_id[inv_id].total)


def test_routing_intent_and_missing_contacts():
    for scale in (0, 1):
        msp = generate(7, scale)
        routes = {msp.organisation_for(msp.company(i.company_id), i.location_id) for i in msp.invoices}
        assert routes == {"adelaide", "sydney", "holdings", "auckland"}
        with_contact = {(c.organisation, c.company_id) for c in msp.xero_contacts}
        invoiced = {msp.company(i.company_id) for i in msp.invoices}
        missing = [c for c in invoiced if (msp.organisation_for(c), c.id) not in with_contact]
        assert missing, "the demo needs a customer without a Xero contact"
        assert len(missing) < len(invoiced) / 4
        vendors = [c for c in msp.companies if c.is_vendor]
        assert all((o.short, v.id) in with_contact for v in vendors for o in msp.organisations)


def test_xero_payment_plans_cover_every_kind():
    msp = generate(7, 1)
    kinds = {p.kind for p in msp.xero_payments}
    assert kinds == {"full", "partial", "over", "unmatchable"}
    numbers = {i.invoice_number for i in msp.invoices}
    assert all((p.invoice_number in numbers) == (p.kind != "unmatchable") for p in msp.xero_payments)


def test_credit_memos_applied_and_refunded_after_the_existing_records():
    msp = generate(7, 1)
    by_id = {i.id: i for i in msp.invoices}
    kinds = [p.type for p in msp.payments]
    # The payments drawn before credit memos existed keep their ids: every later record comes after them.
    first_new = kinds.index("Refund")
    assert set(kinds[:first_new]) == {"Payment"} and [p.id for p in msp.payments] == list(range(1, len(kinds) + 1))
    applied = [p for p in msp.payments if p.type == "Credit Memo"]
    refunds = [p for p in msp.payments if p.type == "Refund"]
    assert len(applied) == 3 and len(refunds) == 2
    for pay in applied:
        memo, target = by_id[pay.credit_id], by_id[pay.invoice_id]
        assert memo.type == "CreditMemo" and memo.apply_to_id == target.id and memo.company_id == target.company_id
        assert any(p.type == "Payment" and p.invoice_id == target.id for p in msp.payments)
    assert {p.amount == -by_id[p.credit_id].total for p in applied} == {True, False}  # fully and partly applied
    assert all(by_id[p.invoice_id].type == "CreditMemo" and p.credit_id is None for p in refunds)
    planned = {p.invoice_number for p in msp.xero_payments}
    assert not planned & {by_id[p.invoice_id].invoice_number for p in applied}


def test_the_tiny_set_has_a_credit_application_and_a_refund():
    msp = generate(7, 0)
    assert [(p.id, p.invoice_id, p.type, p.credit_id, p.amount) for p in msp.payments if p.type != "Payment"] == [
        (3, 1009, "Refund", None, Decimal("181.50")), (5, 1011, "Credit Memo", 1012, Decimal("1287.00"))]


def test_the_auckland_office_bills_in_nzd_at_a_recorded_rate_with_new_zealands_gst():
    msp = generate(7, 1)
    nz = [i for i in msp.invoices if i.location_id == 5]
    assert len(nz) == 20
    assert {msp.organisation_for(msp.company(i.company_id), i.location_id) for i in nz} == {"auckland"}
    assert all(i.currency == "NZD" and i.tax_rate == Decimal("15.00") for i in nz)
    assert all(Decimal("1.08") < i.exchange_rate < Decimal("1.13") and i.exchange_rate.as_tuple().exponent == -4
               for i in nz)
    assert len({i.exchange_rate for i in nz}) > 1  # the rate of each invoice's day
    assert all(i.currency == "AUD" and i.exchange_rate is None for i in msp.invoices if i.location_id != 5)
    contacts = {(c.organisation, c.company_id) for c in msp.xero_contacts}
    assert all(("auckland", i.company_id) in contacts for i in nz)
    assert max(i.id for i in msp.invoices) < msp.next_ids["invoice"]
    assert len({i.invoice_number for i in msp.invoices}) == len(msp.invoices)
    assert f"INV-{msp.next_ids['invoice_number']}" not in {i.invoice_number for i in msp.invoices}
