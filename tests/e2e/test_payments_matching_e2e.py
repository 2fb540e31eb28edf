"""Xero payments applied back onto ConnectWise invoices, on the whole stack against the
sandbox: full, partial, split, over, reversed, moved and unmatchable payments end in the
right ConnectWise state and exceptions; the matcher SIGKILLed mid-run twice (the sandbox
clock moved on between) applies nothing twice; and after a cycle /api/balances shows no
difference for the matched invoices."""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, adelaide_customer, connectwise, new_invoice, record

pytestmark = pytest.mark.stack
ORG = "adelaide"


class Books:
    """ConnectWise and Xero as a finance team sees them, and the product's admin API."""

    def __init__(self, info: dict):
        self.info, self.cw, self.xero = info, connectwise(info), XeroReader(info)
        self.admin = Stack.admin_for(info)
        self.xero_root = info["xero"]["token_url"].rsplit("/connect/token", 1)[0]
        self.cw_root = info["connectwise"]["url"].split("/v4_6_release")[0]

    def xero_call(self, method: str, path: str, **kw) -> dict:
        return self.xero.call(method, path, ORG, **kw)

    def pay(self, xero_invoice_id: str, amount: Decimal) -> str:
        body = {"Payments": [{"Invoice": {"InvoiceID": xero_invoice_id}, "Account": {"Code": "090"},
                              "Amount": str(amount), "Date": "2026-11-19"}]}
        return self.xero_call("PUT", "/Payments", json=body)["Payments"][0]["PaymentID"]

    def control(self, path: str, **body) -> dict:
        resp = httpx.post(f"{self.xero_root}/_sandbox/{path}", json=body, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def balance(self, cw_id: int) -> Decimal:
        return Decimal(str(self.cw.get(f"/finance/invoices/{cw_id}").json()["balance"]))

    def cw_payments(self, cw_id: int) -> list[Decimal]:
        return sorted(Decimal(str(p["amount"])) for p in self.cw.get(f"/finance/invoices/{cw_id}/payments").json())

    def payment_cycle(self) -> None:
        assert self.admin.post("/api/sync/xero_payment/run").status_code == 202

    def decided(self, payment_id: str, timeout: float = 90) -> dict:
        return wait_for(lambda: (r := record(self.admin, "xero_payment", payment_id))
                        and r["status"] in ("synced", "exception", "skipped") and r, timeout,
                        what=f"Xero payment {payment_id} decided")

    def open_exceptions(self, kind: str) -> dict[str, dict]:
        found = self.admin.get("/api/exceptions", params={"status": "open", "record_type": "xero_payment"}).json()
        return {e["record_id"]: e for e in found["exceptions"] if e["kind"] == kind}


@pytest.fixture(scope="module")
def books(stack):
    return Books(stack[1])


@pytest.fixture(scope="module")
def invoices(books, msp):
    """Fourteen new ConnectWise invoices of one Adelaide customer, written to Xero by one invoice
    cycle: name -> (ConnectWise invoice, its record with the Xero InvoiceID, total)."""
    company = adelaide_customer(msp)
    names = ["full", "partial", "split", "over", "reversed", "moved_from", "moved_to", "fixed"] + \
            [f"crash{n}" for n in range(6)]
    made = {name: new_invoice(books.cw, company.id, [(1, str(n + 1), "100.00")]) for n, name in enumerate(names)}
    assert books.admin.post("/api/sync/invoice/run").status_code == 202
    found = {}
    for name, invoice in made.items():
        rec = wait_for(lambda: (r := record(books.admin, "invoice", invoice["id"])) and r["status"] == "synced"
                       and r["xero_id"] and r, 120, what=f"invoice {name} written to Xero")
        assert rec["organisation_id"] == ORG
        found[name] = (invoice, rec, Decimal(str(invoice["total"])))
    return found


def test_full_partial_split_and_over_payments(books, invoices):
    (full, full_rec, full_total), (partial, partial_rec, partial_total) = invoices["full"], invoices["partial"]
    (split, split_rec, split_total), (over, over_rec, over_total) = invoices["split"], invoices["over"]
    paid = {"full": books.pay(full_rec["xero_id"], full_total),
            "partial": books.pay(partial_rec["xero_id"], Decimal("50.00")),
            "split1": books.pay(split_rec["xero_id"], Decimal("100.00")),
            "split2": books.pay(split_rec["xero_id"], split_total - Decimal("100.00"))}
    overpaid = books.control("xero/overpay", organisation=ORG, invoice_number=over["invoiceNumber"],
                             amount=str(over_total + Decimal("25.00")))
    books.payment_cycle()
    for payment_id in [*paid.values(), overpaid["paymentId"]]:
        assert books.decided(payment_id)["status"] == "synced"
    assert books.balance(full["id"]) == 0 and books.cw_payments(full["id"]) == [full_total]
    assert books.balance(partial["id"]) == partial_total - Decimal("50.00")
    assert books.cw_payments(split["id"]) == sorted([Decimal("100.00"), split_total - Decimal("100.00")])
    assert books.balance(split["id"]) == 0
    assert books.balance(over["id"]) == 0 and books.cw_payments(over["id"]) == [over_total]

    excess = books.decided(overpaid["overpaymentId"])
    assert excess["status"] == "exception" and "25.00" in excess["last_error"]
    raised = wait_for(lambda: books.open_exceptions("overpayment").get(overpaid["overpaymentId"]), 60,
                      what="overpayment exception")
    assert over["invoiceNumber"] in raised["message"] and f"{over_total:,.2f}" in raised["message"]
    shown = record(books.admin, "xero_payment", paid["full"])
    assert f"applied {full_total:,.2f} to ConnectWise invoice {full['invoiceNumber']}" in shown["last_error"]


def test_deleted_payments_are_reversed_and_moved_ones_reversed_then_applied_again(books, invoices):
    (rev, rev_rec, rev_total), (src, src_rec, _), (dst, dst_rec, dst_total) = (
        invoices["reversed"], invoices["moved_from"], invoices["moved_to"])
    deleted = books.pay(rev_rec["xero_id"], rev_total)
    moved = books.pay(src_rec["xero_id"], Decimal("60.00"))
    books.payment_cycle()
    books.decided(deleted), books.decided(moved)
    wait_for(lambda: books.balance(rev["id"]) == 0 and books.cw_payments(src["id"]) == [Decimal("60.00")], 60,
             what="both applied")

    books.xero_call("POST", f"/Payments/{deleted}", json={"Payments": [{"Status": "DELETED"}]})
    books.control(f"xero/payments/{moved}/move", organisation=ORG, invoice_number=dst["invoiceNumber"])
    books.payment_cycle()
    wait_for(lambda: books.balance(rev["id"]) == rev_total and books.cw_payments(dst["id"]) == [Decimal("60.00")],
             90, what="reversal and move carried out")
    assert books.cw_payments(rev["id"]) == [] and books.cw_payments(src["id"]) == []
    assert books.balance(dst["id"]) == dst_total - Decimal("60.00")
    assert "reversed" in books.decided(deleted)["last_error"]
    assert "moved" in record(books.admin, "xero_payment", moved)["last_error"]


def test_an_unmatchable_payment_raises_and_is_matched_once_fixed_in_xero(books, invoices):
    fixed, fixed_rec, fixed_total = invoices["fixed"]
    contact = books.xero.one(ORG, "Invoices", fixed_rec["xero_id"])["Contact"]["ContactID"]
    number = f"XR-E2E-{uuid.uuid4().hex[:6]}"
    stray = books.xero_call("PUT", "/Invoices", json={"Invoices": [{
        "Type": "ACCREC", "InvoiceNumber": number, "Contact": {"ContactID": contact}, "Status": "AUTHORISED",
        "Date": "2026-11-19", "DueDate": "2026-12-19", "LineAmountTypes": "NoTax",
        "LineItems": [{"Description": "Raised in Xero", "Quantity": "1", "UnitAmount": "40.00", "AccountCode": "200"}]}]})
    payment = books.pay(stray["Invoices"][0]["InvoiceID"], Decimal("40.00"))
    books.payment_cycle()
    rec = books.decided(payment)
    assert rec["status"] == "exception" and f"no invoice numbered {number}" in rec["last_error"]
    raised = wait_for(lambda: books.open_exceptions("unmatched_payment").get(payment), 60, what="unmatched exception")
    assert raised["organisation_id"] == ORG and number in raised["message"]
    assert raised["links"]["force_sync"].endswith(f"/api/records/xero_payment/{payment}/force-sync")

    # Fixed in Xero: the payment moved onto the invoice it was for. The next cycle matches it.
    books.control(f"xero/payments/{payment}/move", organisation=ORG, invoice_number=fixed["invoiceNumber"])
    books.payment_cycle()
    wait_for(lambda: (r := record(books.admin, "xero_payment", payment)) and r["status"] == "synced", 90,
             what="fixed payment applied")
    assert books.balance(fixed["id"]) == fixed_total - Decimal("40.00")
    wait_for(lambda: payment not in books.open_exceptions("unmatched_payment"), 30, what="exception resolved")


def matcher_pid(data_dir: Path) -> int:
    return json.loads((data_dir / "stack.json").read_text())["pids"]["matcher"]


def test_the_matcher_killed_mid_run_twice_applies_nothing_twice(stack, books, invoices):
    stack_obj, info = stack
    crash = {name: invoices[name] for name in invoices if name.startswith("crash")}

    def newest_intent(ids) -> int:
        with psycopg.connect(info["postgres"]["url"]) as conn:
            return conn.execute("select coalesce(max(id), 0) from cw_payment_applications where state = 'applying'"
                                " and xero_payment_id = any(%s)", (list(ids),)).fetchone()[0]

    # ConnectWise answers slowly, so the matcher is still applying when it is killed.
    assert httpx.post(f"{books.cw_root}/_sandbox/faults", json={"latency_ms": 400}).status_code == 200
    try:
        ids = {name: books.pay(rec["xero_id"], total) for name, (_, rec, total) in crash.items()}
        books.payment_cycle()
        seen = 0
        for _ in range(2):
            # Intents recorded, calls under way (some landed, their answers about to be lost): kill.
            seen = wait_for(lambda: (n := newest_intent(ids.values())) > seen and n, 120, interval=0.05,
                            what="the matcher mid-run")
            time.sleep(1.0)
            pid = matcher_pid(stack_obj.data_dir)
            os.kill(pid, signal.SIGKILL)
            books.control("clock", advance_seconds=1800)  # the sandbox's time moves on while the matcher is down
            wait_for(lambda: matcher_pid(stack_obj.data_dir) != pid, 60, what="matcher restarted")
        for payment_id in ids.values():
            assert books.decided(payment_id, timeout=180)["status"] == "synced"
        assert json.loads((stack_obj.data_dir / "stack.json").read_text())["restarts"]["matcher"] >= 2
        log = (stack_obj.data_dir / "logs" / "matcher.log").read_text()
        assert "applications left in flight" in log  # each restart settled what the kill left in flight
    finally:
        httpx.post(f"{books.cw_root}/_sandbox/faults", json={"clear": True})
    for name, (invoice, _, total) in crash.items():
        assert books.cw_payments(invoice["id"]) == [total], name
        assert books.balance(invoice["id"]) == 0
    with psycopg.connect(info["postgres"]["url"]) as conn:
        rows = conn.execute("select xero_payment_id, state from cw_payment_applications where xero_payment_id = any(%s)",
                            (list(ids.values()),)).fetchall()
    assert sorted(rows) == sorted((pid, "applied") for pid in ids.values())


def test_after_a_cycle_balances_show_no_difference_for_matched_invoices(books, invoices):
    def state() -> tuple[dict, dict]:
        body = books.admin.get("/api/balances", params={"organisation": ORG}).json()
        return body, body["organisations"][0]

    before = state()[1]["last_payment_cycle"]
    books.payment_cycle()
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    body = wait_for(lambda: (b := state()) and b[1]["last_payment_cycle"] != before and b[1]["checked_at"]
                    and at(b[1]["checked_at"]) >= at(b[1]["last_payment_cycle"]) and b[0], 90, interval=1,
                    what="a balance check after the payment cycle")
    ours = {rec["number"] for _, rec, _ in invoices.values()}
    differing = [d for c in body["customers"] for d in c["differences"] if d["invoice_number"] in ours]
    assert differing == []
    listed = {line.split(",")[2] for line in books.admin.get("/api/balances.csv",
                                                             params={"organisation": ORG}).text.splitlines()[1:]}
    assert ours <= listed

    # Every payment exchange with ConnectWise is in the audit log, filed under the Xero payment.
    entries = books.admin.get("/api/audit", params={"record_type": "xero_payment", "limit": 200}).json()
    apis = {e.get("api") for e in entries.get("entries", entries.get("items", []))}
    assert {"connectwise", "xero"} <= apis
    subjects = [m["subject"] for m in books.admin.get("/api/outbox").json()["messages"]]
    assert any("unmatched_payment" in s for s in subjects) and any("overpayment" in s for s in subjects)
