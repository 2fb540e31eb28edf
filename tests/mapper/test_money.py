"""The mapper's decision for ConnectWise money, without Kafka or Postgres: a payment,
a credit memo applied to an invoice, a refund; written, held, skipped or raised."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from services.common.allocation_key import AllocationKey
from services.common.codec import Codec
from services.common.echo import marked_source
from services.common.record_kinds import RecordKind
from services.common.written import Written
from services.mapper.money import Document, MoneyFacts, decide_money
from services.mapping.model import Account, Snapshot

from ..mapping.records import australian_org

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
CODEC = Codec.from_directory()


def snapshot(payment_account: str | None = "090") -> Snapshot:
    org = australian_org("adelaide")
    org.catalog.accounts["090"] = Account("090", "Bank", "ASSET", payments_enabled=True)
    org.payment_account = payment_account
    return Snapshot(7, [], {"adelaide": org}, {})


def money_event(cw_id=501, amount="40.00", *, record_type="payment", invoice_id=1001, number="INV-1001",
                credit_memo=None, change="UPSERT") -> dict:
    return {"record_type": record_type, "cw_id": cw_id, "trigger": "SCHEDULE", "change": change, "observed_at": NOW,
            "last_updated": NOW, "content_hash": f"h{cw_id}{amount}", "invoice_id": invoice_id,
            "invoice_number": number, "company_id": 5, "company_identifier": "ACME", "payment_type": "Payment",
            "amount": D(amount), "payment_date": "2026-11-10T00:00:00Z", "location_id": 1, "custom_fields": [],
            "credit_memo_id": credit_memo[0] if credit_memo else None,
            "credit_memo_number": credit_memo[1] if credit_memo else None, "raw": "{}"}


def written(kind: str, cw_id, xero_id: str, status: str = "AUTHORISED", org: str = "adelaide") -> list[Written]:
    return [Written(org, kind, str(cw_id), xero_id, status)]


INVOICE = Document(RecordKind.INVOICE, "1001", "INV-1001", written("invoice", 1001, "X-INV"), "synced")
MEMO = Document(RecordKind.CREDIT_NOTE, "2001", "CM-2001", written("credit_note", 2001, "X-CN"), "synced")


def facts(*documents: Document, own=(), **kw) -> MoneyFacts:
    return MoneyFacts(list(own), list(documents) or [INVOICE], **kw)


def body_of(decision) -> dict:
    [(_, key, event)] = decision.writes
    assert key == b"adelaide"
    CODEC.decode(CODEC.encode("xero_write_request", event))  # valid against the schema
    return json.loads(event["body"])


def test_a_payment_becomes_a_marked_xero_payment_on_its_invoice_into_the_bank_account():
    decision = decide_money(money_event(), facts(), snapshot(), NOW)
    body = body_of(decision)
    assert body["Invoice"] == {"InvoiceID": "X-INV"} and body["Account"] == {"Code": "090"}
    assert (body["Amount"], body["Date"]) == ("40.00", "2026-11-10")
    assert marked_source(body["Reference"]) == ("payment", 501)  # the matcher never applies it back
    assert decision.writes[0][2]["natural_key"] == body["Reference"] and decision.writes[0][2]["endpoint"] == "Payments"


def test_a_refund_is_a_payment_on_the_credit_note():
    refund = money_event(601, "14.00", record_type="refund", invoice_id=2001, number="CM-2001")
    body = body_of(decide_money(refund, facts(MEMO), snapshot(), NOW))
    assert body["CreditNote"] == {"CreditNoteID": "X-CN"} and "Invoice" not in body
    assert marked_source(body["Reference"]) == ("refund", 601)


def test_a_credit_memo_applied_to_an_invoice_allocates_the_credit_note():
    applied = money_event(701, "30.00", credit_memo=(2001, "CM-2001"))
    decision = decide_money(applied, facts(INVOICE, MEMO), snapshot(payment_account=None), NOW)
    body = body_of(decision)
    assert body == {"CreditNote": {"CreditNoteID": "X-CN"}, "Invoice": {"InvoiceID": "X-INV"}, "Amount": "30.00",
                    "Date": "2026-11-10"}
    key = AllocationKey.parse(decision.writes[0][2]["natural_key"])
    assert (key.credit_note_id, key.invoice_id, key.amount) == ("X-CN", "X-INV", D("30.00"))


@pytest.mark.parametrize("status", [None, "pending", "mapped"])
def test_money_waits_for_its_invoice_to_reach_xero(status):
    not_yet = replace(INVOICE, written=[], status=status)
    decision = decide_money(money_event(), facts(not_yet), snapshot(), NOW)
    assert decision.hold and decision.hold.document == not_yet and not decision.writes and not decision.exceptions
    assert "INV-1001" in decision.hold.reason


def test_money_waits_while_its_invoice_is_a_draft_in_xero():
    draft = replace(INVOICE, written=written("invoice", 1001, "X-INV", "DRAFT"))
    decision = decide_money(money_event(), facts(draft), snapshot(), NOW)
    assert decision.hold and "DRAFT" in decision.hold.reason


@pytest.mark.parametrize("status", ["exception", "failed", "skipped"])
def test_money_on_an_invoice_that_cannot_be_synced_is_an_exception_naming_it(status):
    stuck = replace(INVOICE, written=[], status=status, error="no Xero contact for company 'ACME'")
    [(_, _, exc)] = decide_money(money_event(), facts(stuck), snapshot(), NOW).exceptions
    assert exc["kind"] == "document_not_synced" and "invoice INV-1001" in exc["message"]
    assert "no Xero contact" in exc["message"]


def test_money_on_a_voided_invoice_is_an_exception():
    voided = replace(INVOICE, written=written("invoice", 1001, "X-INV", "VOIDED"))
    [(_, _, exc)] = decide_money(money_event(), facts(voided), snapshot(), NOW).exceptions
    assert exc["kind"] == "document_removed" and "VOIDED" in exc["message"]


@pytest.mark.parametrize("account, why", [(None, "no payment account"), ("200", "no active account 200")])
def test_a_payment_needs_a_payment_account_from_the_catalog(account, why):
    [(_, _, exc)] = decide_money(money_event(), facts(), snapshot(payment_account=account), NOW).exceptions
    assert exc["kind"] == "missing_payment_account" and why in exc["message"]
    assert exc["details"]["field"] == "payment_account_code"


def test_a_payment_the_matcher_made_is_not_written_back():
    decision = decide_money(money_event(), facts(created_by_matcher=True), snapshot(), NOW)
    assert decision.skip and not decision.writes and not decision.exceptions


def test_a_payment_waits_while_the_matcher_applies_one_to_the_same_invoice():
    decision = decide_money(money_event(), facts(matcher_in_flight=True), snapshot(), NOW)
    assert decision.hold and "matcher" in decision.hold.reason


def test_a_payment_deleted_in_connectwise_is_deleted_in_xero_or_skipped_when_never_written():
    deleted = money_event(change="DELETED")
    removal = decide_money(deleted, facts(own=written("payment", 501, "X-PAY")), snapshot(), NOW)
    [(_, _, event)] = removal.writes
    assert (event["operation"], event["endpoint"], json.loads(event["body"])) == (
        "DELETE", "Payments", {"PaymentID": "X-PAY", "Status": "DELETED"})
    assert decide_money(deleted, facts(), snapshot(), NOW).skip
    gone = decide_money(deleted, facts(own=written("payment", 501, "X-PAY", "DELETED")), snapshot(), NOW)
    assert gone.skip and not gone.writes


def test_a_removed_credit_application_deletes_the_allocation_from_its_credit_note():
    deleted = money_event(701, credit_memo=(2001, "CM-2001"), change="DELETED")
    [(_, _, event)] = decide_money(deleted, facts(INVOICE, MEMO, own=written("payment", 701, "X-AL")),
                                   snapshot(), NOW).writes
    assert (event["endpoint"], json.loads(event["body"])) == (
        "Allocations", {"CreditNote": {"CreditNoteID": "X-CN"}, "AllocationID": "X-AL"})


def test_an_invoice_and_memo_in_different_organisations_cannot_be_allocated():
    elsewhere = replace(MEMO, written=written("credit_note", 2001, "X-CN", org="sydney"))
    [(_, _, exc)] = decide_money(money_event(701, credit_memo=(2001, "CM-2001")), facts(INVOICE, elsewhere),
                                 snapshot(), NOW).exceptions
    assert exc["kind"] == "money_mismatch"
