"""ConnectWise money reaching Xero on the whole stack against the sandbox: payments (full,
partial, two on one invoice, one deleted), a credit memo applied to an invoice, a refund,
a voided invoice, and no echo either way: a payment the matcher made is never written back to Xero,
and the Xero payments written from ConnectWise payments are never applied back to ConnectWise."""
from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, adelaide_customer, connectwise, new_invoice, record

pytestmark = pytest.mark.stack
PAID_ON = "2026-11-20T00:00:00Z"
WRITTEN: list[str] = []  # numbers of the invoices whose money these tests sent to Xero
VOIDED: list[str] = []
# ConnectWise payments written to Xero: each ConnectWise invoice's payments, and the Xero payments made of them.
CW_PAYMENTS: dict[int, set[int]] = {}
XERO_PAYMENTS_WRITTEN: dict[str, int] = {}


def synced(admin, record_type: str, cw_id, timeout: float = 60) -> dict:
    return wait_for(lambda: (r := record(admin, record_type, cw_id)) and r["status"] in ("synced", "exception", "skipped")
                    and r, timeout, what=f"{record_type} {cw_id} settled")


def written_invoice(cw, admin, company, lines, kind="Standard") -> tuple[dict, dict]:
    """A new ConnectWise invoice (or credit memo), force-synced: (ConnectWise record, its sync record)."""
    invoice = new_invoice(cw, company.id, lines, kind=kind)
    record_type = "credit_note" if kind == "CreditMemo" else "invoice"
    assert admin.post(f"/api/records/{record_type}/{invoice['id']}/force-sync").status_code == 202
    rec = synced(admin, record_type, invoice["id"])
    assert rec["status"] == "synced" and rec["organisation_id"] == "adelaide", rec
    if record_type == "invoice":
        WRITTEN.append(invoice["invoiceNumber"])
    return invoice, rec


def pay(cw, invoice_id: int, amount: str, **extra) -> dict:
    resp = cw.post(f"/finance/invoices/{invoice_id}/payments",
                   json={"amount": amount, "paymentDate": PAID_ON, "type": "Payment", **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def run(admin, *record_types: str) -> None:
    for record_type in record_types:
        assert admin.post(f"/api/sync/{record_type}/run").status_code == 202


def test_payments_full_partial_split_and_deleted_reach_the_invoice_in_xero(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    company = adelaide_customer(msp)
    with Stack.admin_for(info) as admin:
        full, full_rec = written_invoice(cw, admin, company, [(1, "1", "100.00")])        # 110.00 with GST
        partial, partial_rec = written_invoice(cw, admin, company, [(1, "2", "100.00")])  # 220.00
        split, split_rec = written_invoice(cw, admin, company, [(1, "3", "100.00")])      # 330.00
        paid = [pay(cw, full["id"], "110.00"), pay(cw, partial["id"], "50.00"), pay(cw, split["id"], "100.00"),
                pay(cw, split["id"], "30.00")]
        dropped = pay(cw, partial["id"], "20.00")
        run(admin, "payment")
        for payment in [*paid, dropped]:
            assert synced(admin, "payment", payment["id"])["status"] == "synced"

        assert xero.one("adelaide", "Invoices", full_rec["xero_id"])["Status"] == "PAID"
        assert Decimal(str(xero.one("adelaide", "Invoices", partial_rec["xero_id"])["AmountDue"])) == Decimal("150.00")
        split_in_xero = xero.one("adelaide", "Invoices", split_rec["xero_id"])
        assert len(split_in_xero["Payments"]) == 2 and Decimal(str(split_in_xero["AmountDue"])) == Decimal("200.00")
        ours = xero.payments("adelaide", f'Invoice.InvoiceID==guid("{full_rec["xero_id"]}")')
        assert [p["Account"]["Code"] for p in ours] == ["090"] and "[cz:payment:" in ours[0]["Reference"]

        assert cw.delete(f"/finance/invoices/{partial['id']}/payments/{dropped['id']}").status_code == 204
        run(admin, "payment")
        wait_for(lambda: Decimal(str(xero.one("adelaide", "Invoices", partial_rec["xero_id"])["AmountDue"]))
                 == Decimal("170.00"), 60, what="the deleted payment deleted in Xero")
        assert synced(admin, "payment", dropped["id"])["status"] == "synced"
        for payment in paid:  # for the no-echo check after a Xero payment cycle (the last test)
            CW_PAYMENTS.setdefault(payment["invoice"]["id"], set()).add(payment["id"])
            XERO_PAYMENTS_WRITTEN[record(admin, "payment", payment["id"])["xero_id"]] = payment["id"]


def test_a_credit_memo_applied_and_a_refund_reach_the_credit_note_in_xero(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    company = adelaide_customer(msp)
    with Stack.admin_for(info) as admin:
        invoice, invoice_rec = written_invoice(cw, admin, company, [(1, "2", "100.00")])   # 220.00
        memo, memo_rec = written_invoice(cw, admin, company, [(1, "1", "-100.00")], kind="CreditMemo")  # -110.00
        applied = pay(cw, invoice["id"], "60.00", type="Credit Memo", credit={"id": memo["id"]})
        refund = cw.post(f"/finance/invoices/{memo['id']}/payments",
                         json={"amount": "50.00", "paymentDate": PAID_ON, "type": "Refund"})
        assert refund.status_code == 201, refund.text
        run(admin, "payment", "refund")
        assert synced(admin, "payment", applied["id"])["status"] == "synced"
        assert synced(admin, "refund", refund.json()["id"])["status"] == "synced"

        assert Decimal(str(xero.one("adelaide", "Invoices", invoice_rec["xero_id"])["AmountDue"])) == Decimal("160.00")
        note = xero.one("adelaide", "CreditNotes", memo_rec["xero_id"])
        assert Decimal(str(note["RemainingCredit"])) == Decimal("0.00") and note["Status"] == "PAID"
        [allocation] = [a for a in note["Allocations"] if not a.get("IsDeleted")]
        assert allocation["Invoice"]["InvoiceID"] == invoice_rec["xero_id"]
        assert Decimal(str(allocation["Amount"])) == Decimal("60.00")
        [cash_back] = xero.payments("adelaide", f'CreditNote.CreditNoteID==guid("{memo_rec["xero_id"]}")')
        assert Decimal(str(cash_back["Amount"])) == Decimal("50.00") and "[cz:refund:" in cash_back["Reference"]


def test_an_invoice_voided_in_connectwise_is_voided_in_xero(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice, rec = written_invoice(cw, admin, adelaide_customer(msp), [(1, "1", "80.00")])
        patched = cw.patch(f"/finance/invoices/{invoice['id']}", json=[{"op": "replace", "path": "status/id",
                                                                        "value": 4}])
        assert patched.status_code == 200 and patched.json()["status"]["name"] == "Void", patched.text
        VOIDED.append(invoice["invoiceNumber"])
        run(admin, "invoice")
        wait_for(lambda: xero.one("adelaide", "Invoices", rec["xero_id"])["Status"] == "VOIDED", 60,
                 what="invoice voided in Xero")


def test_a_payment_the_matcher_made_in_connectwise_is_not_written_back_to_xero(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice, rec = written_invoice(cw, admin, adelaide_customer(msp), [(1, "1", "70.00")])
        WRITTEN.remove(invoice["invoiceNumber"])  # its Xero payment is a stand-in that never reaches Xero
        from_xero = pay(cw, invoice["id"], "77.00")
        # What the matcher's ledger holds for a ConnectWise payment it made from a Xero payment.
        with psycopg.connect(info["postgres"]["url"], autocommit=True) as conn:
            conn.execute("insert into cw_payment_applications (organisation_id, xero_payment_id, cw_invoice_id,"
                         " cw_payment_id, amount, state) values ('adelaide', 'x-pay-e2e', %s, %s, 77.00, 'applied')",
                         (invoice["id"], from_xero["id"]))
        run(admin, "payment")
        assert synced(admin, "payment", from_xero["id"])["status"] == "skipped"
        assert not xero.payments("adelaide", f'Invoice.InvoiceID==guid("{rec["xero_id"]}")')


def test_a_payment_waits_for_its_invoice_and_is_written_when_the_invoice_lands(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice = new_invoice(cw, adelaide_customer(msp).id, [(1, "1", "90.00")])  # 99.00, not synced yet
        early = pay(cw, invoice["id"], "40.00")
        run(admin, "payment")
        waiting = wait_for(lambda: (r := record(admin, "payment", early["id"])) and r["status"] == "waiting" and r,
                           60, what="payment waiting for its invoice")
        assert invoice["invoiceNumber"] in waiting["last_error"]
        assert admin.post(f"/api/records/invoice/{invoice['id']}/force-sync").status_code == 202
        rec = synced(admin, "invoice", invoice["id"])
        assert synced(admin, "payment", early["id"])["status"] == "synced"  # released by the invoice's write
        assert Decimal(str(xero.one("adelaide", "Invoices", rec["xero_id"])["AmountDue"])) == Decimal("59.00")


def test_after_a_payment_cycle_balances_show_no_difference_and_nothing_is_echoed_back(stack):
    _, info = stack
    cw = connectwise(info)

    def cw_payments() -> dict[int, set[int]]:
        return {i: {p["id"] for p in cw.get(f"/finance/invoices/{i}/payments").json()} for i in CW_PAYMENTS}

    assert len(XERO_PAYMENTS_WRITTEN) == 4 and cw_payments() == CW_PAYMENTS
    with Stack.admin_for(info) as admin:
        def check() -> dict:
            return admin.get("/api/balances", params={"organisation": "adelaide"}).json()

        before = check()["organisations"][0]["checked_at"]
        run(admin, "xero_payment")
        body = wait_for(lambda: (b := check()) and b["organisations"][0]["checked_at"] not in (None, before) and b,
                        90, interval=1, what="a balance check after the Xero payment cycle")
        listed = {line.split(",")[2] for line in admin.get("/api/balances.csv",
                                                             params={"organisation": "adelaide"}).text.splitlines()[1:]}
        # No echo: the Xero payments the writer made come back from the poll and are skipped as the product's own.
        echoes = wait_for(lambda: (rs := [record(admin, "xero_payment", x) for x in XERO_PAYMENTS_WRITTEN])
                          and all(r and r["status"] != "pending" for r in rs) and rs,
                          60, what="the Xero payments written from ConnectWise decided by the matcher")
    for echo, cw_payment_id in zip(echoes, XERO_PAYMENTS_WRITTEN.values(), strict=True):
        assert echo["status"] == "skipped", echo
        assert f"written by this product from ConnectWise payment {cw_payment_id}" in echo["last_error"], echo
    assert cw_payments() == CW_PAYMENTS  # nothing applied back to the ConnectWise invoices
    assert len(WRITTEN) >= 5
    assert set(WRITTEN) - listed <= set(VOIDED)  # every invoice compared, but a voided one has no balance to keep
    differing = [d for c in body["customers"] for d in c["differences"] if d["invoice_number"] in WRITTEN]
    assert differing == []
