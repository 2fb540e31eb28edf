"""What the mapper does with ConnectWise money: a payment, a credit memo applied
to an invoice, or a refund of a credit memo. Pure: the facts come in as
`MoneyFacts`, configuration as a `Snapshot`, time as an argument.

Money follows its document. It goes to the organisation and Xero document that
the ConnectWise invoice (or credit memo) it concerns became, whatever the
routing rules say now:
- a payment becomes a Xero payment on the invoice, into the organisation's
  payment account;
- a credit memo applied to an invoice becomes an allocation of the credit note
  to the invoice;
- a refund becomes a Xero payment on the credit note (cash paid back).
Money whose document is not in Xero yet, or is still a draft there, waits for
it (`Hold`): that is ordering, not a problem. A document that cannot be synced,
or one voided in Xero, makes the money an exception that names the document.
Money the matcher applied in ConnectWise from a Xero payment is never written
back (the no-echo rule, `common/echo.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..common.allocation_key import AllocationKey
from ..common.echo import xero_reference
from ..common.lifecycle import Status
from ..common.record_kinds import RecordKind
from ..common.written import Written
from ..mapping.model import Snapshot
from ..mapping.translate import money
from .decide import Decision, exception_event, write_event

CANNOT_SYNC = (Status.EXCEPTION, Status.FAILED, Status.SKIPPED)
NOT_YET_APPROVED = ("DRAFT", "SUBMITTED")
REMOVED = ("VOIDED", "DELETED")


@dataclass(frozen=True)
class Document:
    """A ConnectWise document money applies to, and what became of it."""

    kind: RecordKind  # invoice or credit_note
    cw_id: str
    number: str
    written: list[Written] = field(default_factory=list)  # where Xero holds it
    status: str | None = None  # its sync status, when known
    error: str | None = None  # why it is not synced, when it is not

    @property
    def label(self) -> str:
        return f"{self.kind.label} {self.number or self.cw_id}"


@dataclass(frozen=True)
class MoneyFacts:
    own: list[Written]  # where Xero holds this money already
    documents: list[Document]  # what it applies to: one, or two for a credit application (invoice, memo)
    created_by_matcher: bool = False
    matcher_in_flight: bool = False


@dataclass(frozen=True)
class Hold:
    document: Document
    reason: str


@dataclass
class MoneyDecision(Decision):
    hold: Hold | None = None


def documents_of(record: dict) -> list[tuple[RecordKind, str, str]]:
    """(kind, ConnectWise id, number) of what this money applies to, in that order."""
    if record["record_type"] == RecordKind.REFUND:
        return [(RecordKind.CREDIT_NOTE, str(record["invoice_id"]), record.get("invoice_number") or "")]
    invoice = (RecordKind.INVOICE, str(record["invoice_id"]), record.get("invoice_number") or "")
    if record.get("credit_memo_id"):
        return [
            invoice,
            (RecordKind.CREDIT_NOTE, str(record["credit_memo_id"]), record.get("credit_memo_number") or ""),
        ]
    return [invoice]


def label_of(record: dict) -> str:
    kind = RecordKind(record["record_type"])
    what = "credit memo application" if record.get("credit_memo_id") else kind.label
    return f"{what} {record['cw_id']} on {record.get('invoice_number') or record.get('invoice_id')}"


def decide_money(record: dict, facts: MoneyFacts, snapshot: Snapshot, now: datetime) -> MoneyDecision:
    label = label_of(record)
    live_own = [w for w in facts.own if (w.xero_status or "").upper() not in REMOVED]
    if record.get("change") == "DELETED":
        if not live_own:
            return MoneyDecision(skip="removed in ConnectWise before it was written to Xero")
        decision = MoneyDecision(organisation_id=live_own[0].organisation_id, reason="removed in ConnectWise")
        decision.writes = [_removal(record, w, facts, now) for w in live_own]
        return decision
    if facts.created_by_matcher:
        return MoneyDecision(skip="applied in ConnectWise from a Xero payment: it is already in Xero")
    if facts.matcher_in_flight:
        return MoneyDecision(
            hold=Hold(
                facts.documents[0],
                "the matcher is applying a Xero payment to this invoice; this waits until that is settled",
            )
        )
    targets: list[Written] = []
    for doc in facts.documents:
        outcome = _where(doc, record, label, now)
        if isinstance(outcome, MoneyDecision):
            return outcome
        targets.append(outcome)
    org_id = targets[0].organisation_id
    if any(t.organisation_id != org_id for t in targets):
        return _raise(
            record,
            "money_mismatch",
            f"{label}: the invoice and the credit memo are in different Xero "
            f"organisations ({', '.join(t.organisation_id for t in targets)}); allocate it by hand",
            org_id,
            {},
            now,
        )
    amount = Decimal(record["amount"])
    if amount <= 0:
        return _raise(
            record,
            "bad_record",
            f"{label}: amount {amount} is not above zero",
            org_id,
            {"field": "amount", "value": str(amount)},
            now,
        )
    day = str(record.get("payment_date") or "")[:10]
    if record.get("credit_memo_id"):
        invoice, credit_note = targets
        key = AllocationKey(credit_note.xero_id, invoice.xero_id, amount, day)
        body = {
            "CreditNote": {"CreditNoteID": credit_note.xero_id},
            "Invoice": {"InvoiceID": invoice.xero_id},
            "Amount": money(amount),
            "Date": day,
        }
        return _writing(record, org_id, "Allocations", body, str(key), now)
    org = snapshot.orgs.get(org_id)
    account = org.catalog.accounts.get(org.payment_account or "") if org else None
    if (
        org is None
        or not org.payment_account
        or account is None
        or not account.payments_enabled
        or account.status != "ACTIVE"
    ):
        why = (
            "has no payment account set"
            if org is None or not org.payment_account
            else f"has no active account {org.payment_account} that takes payments in its catalog"
        )
        return _raise(
            record,
            "missing_payment_account",
            f"{label}: organisation {org_id} {why}; set its payment_account_code to a bank account, then force-sync it",
            org_id,
            {"field": "payment_account_code", "value": (org.payment_account if org else None) or ""},
            now,
        )
    document = targets[0]
    target = (
        {"CreditNote": {"CreditNoteID": document.xero_id}}
        if document.record_type == RecordKind.CREDIT_NOTE
        else {"Invoice": {"InvoiceID": document.xero_id}}
    )
    reference = xero_reference(
        record["record_type"],
        record["cw_id"],
        f"ConnectWise {RecordKind(record['record_type']).label} {record['cw_id']} {record.get('invoice_number') or ''}",
    )
    body = {
        **target,
        "Account": {"Code": org.payment_account},
        "Date": day,
        "Amount": money(amount),
        "Reference": reference,
    }
    return _writing(record, org_id, "Payments", body, reference, now)


def _where(doc: Document, record: dict, label: str, now: datetime) -> Written | MoneyDecision:
    """Where Xero holds the document, or what to do with the money instead."""
    if not doc.written:
        if doc.status == Status.BEFORE_GO_LIVE:
            return MoneyDecision(
                before_go_live=f"{label} applies to {doc.label}, which is dated before its "
                "organisation's go-live date: its money stays as the books had it"
            )
        if doc.status in CANNOT_SYNC:
            return _raise(
                record,
                "document_not_synced",
                f"{label} applies to {doc.label}, which is not in Xero: "
                f"{doc.error or doc.status}; fix that and the {RecordKind(record['record_type']).label} "
                "follows",
                None,
                {"document": doc.label},
                now,
            )
        return MoneyDecision(hold=Hold(doc, f"waits for {doc.label} to be written to Xero"))
    held = doc.written[0]
    status = (held.xero_status or "").upper()
    if status in REMOVED:
        return _raise(
            record,
            "document_removed",
            f"{label} applies to {doc.label}, which is {status} in Xero "
            f"organisation {held.organisation_id}; record it there by hand or reinstate the document",
            held.organisation_id,
            {"document": doc.label, "xero_status": status},
            now,
        )
    if status in NOT_YET_APPROVED:
        return MoneyDecision(
            organisation_id=held.organisation_id,
            hold=Hold(doc, f"{doc.label} is {status} in Xero: money applies to it once it is approved there"),
        )
    return held


def _writing(record: dict, org_id: str, endpoint: str, body: dict, key: str, now: datetime) -> MoneyDecision:
    decision = MoneyDecision(organisation_id=org_id, reason="where its document is")
    decision.writes.append(write_event(record, org_id, "UPSERT", endpoint, body, key, now))
    return decision


def _removal(record: dict, own: Written, facts: MoneyFacts, now: datetime):
    """A Xero payment is deleted (never edited); an allocation is deleted from its credit note."""
    if record.get("credit_memo_id"):
        memo = next(
            (
                w
                for doc in facts.documents
                if doc.kind is RecordKind.CREDIT_NOTE
                for w in doc.written
                if w.organisation_id == own.organisation_id
            ),
            None,
        )
        body = {"CreditNote": {"CreditNoteID": memo.xero_id if memo else None}, "AllocationID": own.xero_id}
        return write_event(record, own.organisation_id, "DELETE", "Allocations", body, own.xero_id, now)
    return write_event(
        record,
        own.organisation_id,
        "DELETE",
        "Payments",
        {"PaymentID": own.xero_id, "Status": "DELETED"},
        own.xero_id,
        now,
    )


def _raise(record: dict, kind: str, message: str, org_id: str | None, details: dict, now: datetime) -> MoneyDecision:
    return MoneyDecision(
        organisation_id=org_id, exceptions=[exception_event(record, kind, message, org_id, details, now)]
    )
