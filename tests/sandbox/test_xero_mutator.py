"""The payments mutator leaves Xero holding full, partial, over and
unmatchable payments for invoices the product wrote."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from services.sandbox.seed import generate
from services.sandbox.xero.documents import INVOICE, save_batch
from services.sandbox.xero.payments_mutator import PaymentsMutator
from services.sandbox.xero.state import build_state


def write_invoices(state, org, numbers):
    account = next(a for a in org.accounts.values() if a["Class"] == "REVENUE")
    contact = sorted(org.contacts)[0]
    elements = [{"Type": "ACCREC", "InvoiceNumber": n, "Status": "AUTHORISED", "Contact": {"ContactID": contact},
                 "LineAmountTypes": "NoTax",
                 "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": "100.00",
                                "AccountCode": account["Code"]}]} for n in numbers]
    status, out, failed = save_batch(state, org, INVOICE, elements, method="PUT", summarize=True)
    assert status == 200 and not failed


def test_planned_payments_of_every_kind():
    state = build_state(generate(7, 0))
    org = next(iter(state.organisations.values()))
    write_invoices(state, org, ["A-1", "A-2", "A-3"])
    plan = lambda number, amount, kind: SimpleNamespace(organisation=org.short, invoice_number=number,
                                                        amount=Decimal(amount), payment_date=date(2026, 11, 21),
                                                        kind=kind)
    plans = [plan("A-1", "100.00", "full"), plan("A-2", "40.00", "partial"), plan("A-3", "130.00", "over"),
             plan("XERO-ONLY-1", "77.70", "unmatchable"), plan("NOT-YET", "10.00", "full")]
    mutator = PaymentsMutator(state, plans, per_tick=0)
    done = mutator.tick()
    assert [d["kind"] for d in done] == ["full", "partial", "over", "unmatchable"]
    by_number = {i["InvoiceNumber"]: i for i in org.invoices.values()}
    assert by_number["A-1"]["Status"] == "PAID"
    assert by_number["A-2"]["AmountDue"] == Decimal("60.00") and by_number["A-2"]["Status"] == "AUTHORISED"
    assert by_number["A-3"]["Status"] == "PAID"
    over = next(iter(org.overpayments.values()))
    assert over["Total"] == Decimal("30.00") and over["RemainingCredit"] == Decimal("30.00")
    assert by_number["XERO-ONLY-1"]["Status"] == "PAID" and by_number["XERO-ONLY-1"]["Total"] == Decimal("77.70")
    assert mutator.tick() == []  # plans are applied once; NOT-YET waits for its invoice
    write_invoices(state, org, ["NOT-YET"])
    assert [d["invoiceNumber"] for d in mutator.tick()] == ["NOT-YET"]


def test_unplanned_invoices_get_paid_over_time():
    state = build_state(generate(7, 0))
    org = next(iter(state.organisations.values()))
    write_invoices(state, org, [f"B-{i}" for i in range(6)])
    mutator = PaymentsMutator(state, [], per_tick=2)
    kinds = [d["kind"] for _ in range(3) for d in mutator.tick()]
    assert kinds == ["full", "partial", "over", "full", "partial", "over"]
    assert len([p for p in org.payments.values() if p["PaymentType"] == "ACCRECPAYMENT"]) == 6
    assert len(org.overpayments) == 2
