"""The demo's planned payments on the whole stack: the synthetic MSP plans full, partial, over and
unmatchable payments in Xero (what `make demo` makes while you watch); once Xero holds them, one
payment cycle ends each matched or raised: applied to its ConnectWise invoice, or an exception on
the records the console shows, told in the outbox."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from ..stackutil import Stack, wait_for
from .sandbox_clients import connectwise, record

# The whole stack (slow), so e2e. Paying the seed's invoices changes their balances, so it runs after
# the other tests on the shared stack (the real-books test, which spends a minute, still goes last).
pytestmark = [pytest.mark.stack, pytest.mark.changes_seed_balances]


def decided(admin: httpx.Client, payment_id: str) -> dict:
    return wait_for(lambda: (r := record(admin, "xero_payment", payment_id))
                    and r["status"] in ("synced", "exception", "skipped") and r, 120,
                    what=f"Xero payment {payment_id} matched or raised")


def test_the_demos_planned_payments_end_matched_or_raised(stack, msp):
    _, info = stack
    cw = connectwise(info)
    cw_root = info["connectwise"]["url"].split("/v4_6_release")[0]
    plans = {(p.organisation, p.invoice_number): p for p in msp.xero_payments}
    cw_ids = {i.invoice_number: i.id for i in msp.invoices}
    with Stack.admin_for(info) as admin:  # a plan's invoice in Xero, or raised before it got there
        states = {key: record(admin, "invoice", cw_ids[key[1]]) for key in plans if key[1] in cw_ids}
    in_xero = {key for key, r in states.items() if r and r["status"] == "synced" and r["organisation_id"] == key[0]}
    assert all(r and r["status"] == "exception" for key, r in states.items() if key not in in_xero), states
    payable = {key for key, p in plans.items() if key in in_xero or p.kind == "unmatchable"}
    assert {plans[key].kind for key in payable} == {"full", "partial", "over", "unmatchable"}
    made = httpx.post(f"{cw_root}/_sandbox/payment-plans", timeout=30).json()
    assert {(m["organisation"], m["invoiceNumber"]) for m in made} == payable
    before = {m["invoiceNumber"]: cw.get("/finance/invoices", params={
        "conditions": f'invoiceNumber="{m["invoiceNumber"]}"'}).json() for m in made}

    with Stack.admin_for(info) as admin:
        assert admin.post("/api/sync/xero_payment/run").status_code == 202
        for m in made:
            plan, payment = plans[(m["organisation"], m["invoiceNumber"])], decided(admin, m["paymentId"])
            [invoice] = before[m["invoiceNumber"]] or [None]
            if plan.kind == "unmatchable":  # a Xero-only invoice: nothing in ConnectWise to apply it to
                assert invoice is None and payment["status"] == "exception", payment
                continue
            assert payment["status"] == "synced", payment
            now = cw.get(f"/finance/invoices/{invoice['id']}").json()
            paid = Decimal(m["amount"])
            assert Decimal(str(now["balance"])) == Decimal(str(invoice["balance"])) - paid, (plan.kind, now)
            if plan.kind == "over":  # the excess is Xero's overpayment: raised, never applied
                assert decided(admin, m["overpaymentId"])["status"] == "exception"

        def raised(kind: str) -> set[str]:
            found = admin.get("/api/exceptions", params={"record_type": "xero_payment"}).json()["exceptions"]
            return {e["record_id"] for e in found if e["kind"] == kind}
        unmatchable = {m["paymentId"] for m in made if m["kind"] == "unmatchable"}
        overpaid = {m["overpaymentId"] for m in made if m["kind"] == "over"}
        wait_for(lambda: unmatchable <= raised("unmatched_payment") and overpaid <= raised("overpayment"), 60,
                 what="the unmatched and over payments raised")

        def told() -> bool:
            mail = " ".join(m["subject"] + m["text"] for m in admin.get("/api/outbox").json()["messages"])
            return all(plans[(m["organisation"], m["invoiceNumber"])].invoice_number in mail
                       for m in made if m["kind"] in ("unmatchable", "over"))
        wait_for(told, 90, interval=2, what="the outbox telling each unmatched and over payment")
    print(f"demo payments: {sorted((m['kind'], m['invoiceNumber']) for m in made)}; raised before Xero:"
          f" {sorted(key for key in states if key not in in_xero)}")
