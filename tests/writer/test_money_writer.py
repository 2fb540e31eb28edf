"""The writer's money path against the real Xero simulator and a real ledger in Postgres:
payments, credit note allocations and refunds written once, edited by delete and create,
removed, refused as exceptions, and settled after a crash without doubling."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from cryptography.fernet import Fernet

from services.common.allocation_key import AllocationKey
from services.common.database import Database
from services.common.echo import xero_reference
from services.common.secrets import SecretBox
from services.integrations.xero.client import XeroOrg
from services.sandbox.xero.ratelimit import Limits as SimLimits
from services.writer.batching import WriteRequest
from services.writer.ledger import Ledger
from services.writer.writer import REMOVAL_ADVICE, OrganisationWriter
from tests.integrations.xero.sim import ORG_IDS, add_organisations, invoice_body, make_client, running_simulator

pytestmark = pytest.mark.integration

ORG = "adelaide"


@pytest.fixture
def money(fresh_database):
    box = SecretBox(Fernet.generate_key().decode())
    with running_simulator(limits=SimLimits(per_minute=600)) as sim:
        add_organisations(fresh_database, box, sim)
        client, _, recorder = make_client(sim, fresh_database, box)
        ledger = Ledger(Database(fresh_database, max_size=2))
        published: list[tuple[str, dict]] = []
        writer = OrganisationWriter(client, ledger, lambda kind, record: published.append((kind, record)))
        yield Harness(sim, fresh_database, client, ledger, writer, published, recorder)
        ledger.close()


class Harness:
    def __init__(self, sim, db, client, ledger, writer, published, recorder):
        self.sim, self.db, self.client, self.ledger, self.writer = sim, db, client, ledger, writer
        self.published, self.recorder = published, recorder

    def write(self, *requests: WriteRequest) -> None:
        self.writer.write(ORG, list(requests))

    def results(self, cw_id: int) -> list[dict]:
        return [r for kind, r in self.published if kind == "result" and r["cw_id"] == cw_id]

    def exceptions(self, cw_id: int) -> list[dict]:
        return [r for kind, r in self.published if kind == "exception" and r["record_id"] == str(cw_id)]

    def status(self, record_type: str, cw_id: int) -> str:
        with psycopg.connect(self.db) as conn:
            return conn.execute("select status from sync_records where record_type = %s and cw_id = %s",
                                (record_type, str(cw_id))).fetchone()[0]

    def xero(self):
        return self.sim.org(ORG)

    def calls(self, method: str, path_part: str) -> int:
        return sum(1 for r in self.recorder.records if r["method"] == method and path_part in r["url"])


def request(cw_id: int, endpoint: str, body: dict, natural_key: str, record_type: str = "payment",
            operation: str = "UPSERT") -> WriteRequest:
    content = json.dumps(body, sort_keys=True)
    return WriteRequest.from_record({
        "request_id": str(uuid.uuid4()), "organisation_id": ORG, "record_type": record_type, "cw_id": cw_id,
        "content_hash": hashlib.sha256(f"{operation}{content}".encode()).hexdigest(), "operation": operation,
        "endpoint": endpoint, "body": content, "natural_key": natural_key, "mapped_at": datetime.now(timezone.utc),
        "observed_at": datetime.now(timezone.utc)})


def document(h: Harness, cw_id: int, number: str, kind: str = "invoice", amount: str = "100.00") -> str:
    """An AUTHORISED invoice (110.00 with tax) or credit note written through the writer; its Xero id."""
    body = invoice_body(h.sim, ORG, number, amount=amount, status="AUTHORISED")
    endpoint = "Invoices"
    if kind == "credit_note":
        body = {**{k: v for k, v in body.items() if k not in ("InvoiceNumber", "DueDate")},
                "Type": "ACCRECCREDIT", "CreditNoteNumber": number}
        endpoint = "CreditNotes"
    h.write(request(cw_id, endpoint, body, number, record_type=kind))
    [result] = h.results(cw_id)
    assert result["outcome"] == "CREATED", result
    return result["xero_id"]


def payment(cw_id: int, invoice_id: str, amount: str, reference_kind: str = "payment", on: str = "2026-11-10",
            target: str = "Invoice") -> WriteRequest:
    reference = xero_reference(reference_kind, cw_id, f"ConnectWise {reference_kind} {cw_id}")
    id_field = "InvoiceID" if target == "Invoice" else "CreditNoteID"
    body = {target: {id_field: invoice_id}, "Account": {"Code": "090"}, "Date": on, "Amount": amount,
            "Reference": reference}
    return request(cw_id, "Payments", body, reference, record_type=reference_kind)


def allocation(cw_id: int, credit_note: str, invoice: str, amount: str, on: str = "2026-11-11") -> WriteRequest:
    body = {"CreditNote": {"CreditNoteID": credit_note}, "Invoice": {"InvoiceID": invoice}, "Amount": amount,
            "Date": on}
    return request(cw_id, "Allocations", body, str(AllocationKey(credit_note, invoice, Decimal(amount), on)))


def live_payments(h: Harness, invoice_id: str) -> list[dict]:
    return [p for p in h.xero().payments.values() if p["_doc"][1] == invoice_id and p["Status"] != "DELETED"]


def test_payments_are_written_once_edited_by_delete_and_create_and_removed(money):
    h = money
    invoice = document(h, 1, "INV-M1")
    h.write(payment(501, invoice, "40.00"), payment(502, invoice, "30.00"))  # split: two payments, one call
    assert h.calls("PUT", "/Payments") == 1
    assert sorted(p["Amount"] for p in live_payments(h, invoice)) == [Decimal("30.00"), Decimal("40.00")]
    assert h.xero().invoices[invoice]["AmountDue"] == Decimal("40.00")
    assert all("[cz:payment:" in p["Reference"] for p in live_payments(h, invoice))  # marked: never echoed back
    assert h.status("payment", 501) == "synced"

    h.write(payment(501, invoice, "40.00"))  # delivered again: nothing to do
    assert h.calls("PUT", "/Payments") == 1 and h.results(501)[-1]["outcome"] == "UNCHANGED"

    h.write(payment(501, invoice, "45.00"))  # edited in ConnectWise: Xero deletes and creates
    assert sorted(p["Amount"] for p in live_payments(h, invoice)) == [Decimal("30.00"), Decimal("45.00")]

    removal = request(502, "Payments", {"PaymentID": "x", "Status": "DELETED"}, "x", operation="DELETE")
    h.write(removal)
    assert [p["Amount"] for p in live_payments(h, invoice)] == [Decimal("45.00")]
    assert h.xero().invoices[invoice]["AmountDue"] == Decimal("65.00")
    assert h.results(502)[-1]["outcome"] == "DELETED" and h.status("payment", 502) == "synced"


def test_a_full_payment_pays_the_invoice_and_too_much_is_refused_with_nothing_written(money):
    h = money
    invoice = document(h, 2, "INV-M2")
    h.write(payment(511, invoice, "200.00"))
    assert not live_payments(h, invoice)
    [exc] = h.exceptions(511)
    assert exc["kind"] == "xero_validation" and "amount due" in exc["message"].lower() + exc["details"]["errors"].lower()
    assert h.status("payment", 511) == "exception"
    h.write(payment(512, invoice, "110.00"))
    assert h.xero().invoices[invoice]["Status"] == "PAID"


def test_credit_note_allocations_and_refunds(money):
    h = money
    invoice = document(h, 3, "INV-M3")
    note = document(h, 4, "CN-M4", kind="credit_note", amount="40.00")  # 44.00 with tax
    h.write(allocation(521, note, invoice, "30.00"))
    assert h.xero().invoices[invoice]["AmountDue"] == Decimal("80.00")
    assert h.xero().credit_notes[note]["RemainingCredit"] == Decimal("14.00")
    h.write(allocation(522, note, invoice, "20.00"))  # more than the credit left: refused, nothing half-written
    [exc] = h.exceptions(522)
    assert "remaining credit" in exc["message"].lower() and h.xero().credit_notes[note]["RemainingCredit"] == Decimal("14.00")

    h.write(payment(531, note, "14.00", reference_kind="refund", target="CreditNote"))  # cash back to the customer
    assert h.xero().credit_notes[note]["RemainingCredit"] == Decimal("0.00")
    assert h.status("refund", 531) == "synced"

    credit_application = request(521, "Allocations", {"CreditNote": {"CreditNoteID": note}}, "x", operation="DELETE")
    h.write(credit_application)  # the memo's application removed in ConnectWise
    assert h.xero().invoices[invoice]["AmountDue"] == Decimal("110.00")


def test_a_payment_whose_answer_a_crash_lost_is_found_by_its_reference_not_made_twice(money):
    h = money
    invoice = document(h, 5, "INV-M5")
    lost = payment(541, invoice, "25.00")
    # The call landed in Xero but the writer died before storing the outcome: the ledger holds the intent.
    h.ledger.mark_pending(ORG, [("payment", "541", lost.natural_key, lost.request_id, lost.content_hash)], "cz-lost")
    h.client.write(XeroOrg(ORG, ORG_IDS[ORG]), "Payments", "PUT", [lost.body], "cz-lost-call")
    assert len(live_payments(h, invoice)) == 1
    again = payment(541, invoice, "25.00")  # redelivered, after Xero forgot the idempotency key
    h.write(again)
    assert len(live_payments(h, invoice)) == 1 and h.status("payment", 541) == "synced"
    assert h.results(541)[-1]["outcome"] == "UNCHANGED"


def test_an_allocation_whose_answer_a_crash_lost_is_found_not_made_twice(money):
    h = money
    invoice = document(h, 6, "INV-M6")
    note = document(h, 7, "CN-M7", kind="credit_note", amount="40.00")
    lost = allocation(551, note, invoice, "10.00")
    h.ledger.mark_pending(ORG, [("payment", "551", lost.natural_key, lost.request_id, lost.content_hash)], "cz-lost")
    h.client.write(XeroOrg(ORG, ORG_IDS[ORG]), f"CreditNotes/{note}/Allocations", "PUT",
                   [{"Invoice": {"InvoiceID": invoice}, "Amount": "10.00", "Date": "2026-11-11"}], "cz-lost-call",
                   collection="Allocations")
    h.write(allocation(551, note, invoice, "10.00"))
    live = [a for a in h.xero().credit_notes[note]["Allocations"] if not a["IsDeleted"]]
    assert len(live) == 1 and h.xero().invoices[invoice]["AmountDue"] == Decimal("100.00")


def test_a_void_xero_refuses_because_payments_are_applied_says_what_to_do_and_changes_nothing(money):
    h = money
    invoice = document(h, 8, "INV-M8")
    h.write(payment(561, invoice, "40.00"))  # partly paid: still AUTHORISED in Xero
    assert h.xero().invoices[invoice]["Status"] == "AUTHORISED" and len(live_payments(h, invoice)) == 1

    h.write(request(8, "Invoices", {}, "INV-M8", record_type="invoice", operation="VOID"))  # voided in ConnectWise
    assert h.results(8)[-1]["outcome"] == "REJECTED"
    [exc] = h.exceptions(8)
    assert exc["kind"] == "xero_validation" and "payment" in exc["details"]["errors"].lower()
    assert exc["message"].endswith(REMOVAL_ADVICE)  # what a person does about it
    assert h.xero().invoices[invoice]["Status"] == "AUTHORISED" and len(live_payments(h, invoice)) == 1
    assert h.xero().invoices[invoice]["AmountDue"] == Decimal("70.00")
    assert h.status("invoice", 8) == "exception"
    [entry] = h.ledger.entries(ORG, [("invoice", "8")]).values()
    assert entry.xero_status == "AUTHORISED" and entry.pending_request_id is None  # nothing left half-written
