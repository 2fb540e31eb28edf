"""ConnectWise money: payments and credit memo applications (record type
`payment`, `cw.payments.v1`) and refunds (record type `refund`, `cw.refunds.v1`).

ConnectWise lists money only under an invoice (`finance/invoices/{id}/payments`),
and applying or removing some moves the invoice's `_info.lastUpdated`, so the
poll walks the invoices changed since its cursor and reads the payments of those
that carry any (or had some ingest emitted before: removed money is emitted as
DELETED). Under an invoice, a payment whose `credit` names a credit memo is that
memo applied to the invoice (it becomes a credit note allocation in Xero); the
payments under a credit memo are refunds, money paid back to the customer. The
payment poll reads invoices, the refund poll credit memos. The conversion
functions are pure; `emit_payments_page` does the I/O.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

from ..common.record_kinds import RecordKind
from .invoices import CREDIT_MEMO
from .event_frame import SCHEDULED_NOW, Gone, Reading, deleted_frame, pick, upsert_frame
from .poller import (
    SCALE,
    RecordError,
    event_id,
    content_hash,
    custom_fields,
    date_only,
    dumps_cw_json,
    money,
    ref,
    ref_id,
)
from .publish import publish

log = logging.getLogger(__name__)
RECORD_TYPE = RecordKind.PAYMENT
WORKERS = 4
PAYMENT_SNAPSHOT_FIELDS = (
    "invoice_id",
    "invoice_number",
    "company_id",
    "company_identifier",
    "payment_type",
    "payment_date",
    "location_id",
    "custom_fields",
    "credit_memo_id",
    "credit_memo_number",
)
REFUND_TYPE = "Refund"


def payment_hash(payment: dict, invoice: dict) -> str:
    """The payment's own content plus the invoice facts its event carries."""
    company = ref(invoice, "company")
    facts = {
        "number": invoice.get("invoiceNumber"),
        "company": company.get("id"),
        "location": ref_id(invoice, "locationId", "location"),
        "tags": custom_fields(invoice),
    }
    return content_hash({**payment, "_invoice": facts}, [])


def kind_of(invoice: dict) -> RecordKind:
    """What the money listed under this invoice is: refunds under a credit memo, else payments."""
    return RecordKind.REFUND if invoice.get("type") == CREDIT_MEMO else RecordKind.PAYMENT


def to_payment_event(payment: dict, invoice: dict, reading: Reading = SCHEDULED_NOW) -> dict:
    cw_id = event_id(payment, reading.trigger)
    credit = ref(payment, "credit")
    company = ref(invoice, "company")
    if company.get("id") is None:
        raise RecordError(cw_id, "invoice.company.id", "missing")
    paid_on = date_only(payment.get("paymentDate"))
    if not paid_on:
        raise RecordError(cw_id, "paymentDate", "missing")
    return {
        **upsert_frame(kind_of(invoice).value, cw_id, payment, reading, lambda: payment_hash(payment, invoice)),
        "invoice_id": int(invoice["id"]),
        "invoice_number": str(invoice.get("invoiceNumber") or ref(payment, "invoice").get("identifier") or ""),
        "company_id": int(company["id"]),
        "company_identifier": str(company.get("identifier") or ""),
        "payment_type": payment.get("type") or None,
        "amount": money(payment.get("amount"), cw_id, "amount"),
        "payment_date": paid_on,
        "location_id": ref_id(invoice, "locationId", "location"),
        "custom_fields": custom_fields(invoice),
        "credit_memo_id": int(credit["id"]) if credit.get("id") is not None else None,
        "credit_memo_number": str(credit.get("identifier") or "") or None,
        "raw": dumps_cw_json(payment),
    }


def payment_snapshot_of(event: dict) -> dict:
    return pick(event, PAYMENT_SNAPSHOT_FIELDS)


def deleted_payment_event(gone: Gone, kind: RecordKind = RecordKind.PAYMENT) -> dict:
    known = gone.known
    return {
        **deleted_frame(kind.value, gone, PAYMENT_SNAPSHOT_FIELDS),
        "invoice_id": int(known.get("invoice_id") or 0),
        "invoice_number": gone.number_from("invoice_number"),
        "company_id": int(known.get("company_id") or 0),
        "company_identifier": str(known.get("company_identifier") or ""),
        "amount": Decimal(0).quantize(SCALE),
        "payment_date": str(known.get("payment_date") or ""),
    }


# --- I/O -----------------------------------------------------------------------------


def _payments_of(client, invoices: list[dict]) -> dict[int, list[dict]]:
    def read(invoice: dict) -> list[dict]:
        kind, company = kind_of(invoice), ref(invoice, "company")
        tags = {"record_type": kind.value, "customer": company.get("name") or company.get("identifier")}
        return list(client.all(kind.cw_route.format(invoice_id=int(invoice["id"])), tags=tags))

    ids = [int(inv["id"]) for inv in invoices]
    if len(invoices) <= 1:
        return {i: read(inv) for i, inv in zip(ids, invoices, strict=True)}
    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(ids, pool.map(read, invoices), strict=True))


def _record(p, kind: RecordKind, events: list[dict], observed: datetime, result) -> None:
    if events:
        publish(
            p,
            kind,
            events,
            observed,
            result,
            number=lambda e: e["invoice_number"],
            customer=lambda e: e["company_identifier"],
            amount="amount",
            snapshot_of=payment_snapshot_of,
        )


def _carries_money(invoice: dict) -> bool:
    return any(Decimal(str(invoice.get(name) or 0)) != 0 for name in ("payments", "credits"))


def emit_payments_page(
    p, invoices: list[dict], trigger: str, force: bool, result, kind: RecordKind = RecordKind.PAYMENT
) -> None:
    """Emits the new, changed (all when `force`) and removed money of `kind` under a page of invoices."""
    invoices = [inv for inv in invoices if kind_of(inv) is kind]
    known = p.store.payments_by_invoice(kind, [int(inv["id"]) for inv in invoices])
    candidates = [inv for inv in invoices if _carries_money(inv) or int(inv["id"]) in known]
    if not candidates:
        return
    fetched = _payments_of(p.client, candidates)
    observed = p.clock()
    events = []
    for inv in candidates:
        before = known.get(int(inv["id"]), {})
        now_ids = set()
        for payment in fetched.get(int(inv["id"]), []):
            now_ids.add(str(payment.get("id")))
            hash_ = payment_hash(payment, inv)
            row = before.get(str(payment.get("id")))
            if not force and row is not None and row["content_hash"] == hash_:
                continue
            try:
                events.append(to_payment_event(payment, inv, Reading(trigger, observed, hash_)))
            except (RecordError, ValueError, KeyError, TypeError) as exc:
                log.error("cannot convert ConnectWise %s %s: %s", kind.label, payment.get("id"), exc)
                p.store.record_failed(kind, str(payment.get("id")), str(exc))
                result.failed += 1
        for cw_id, row in before.items():
            if cw_id not in now_ids:
                gone = Gone.from_row(row, observed_at=observed, trigger=trigger, cw_id=cw_id)
                events.append(deleted_payment_event(gone, kind))
    _record(p, kind, events, observed, result)


def force_sync_payment(p, record_id: str, result, kind: RecordKind = RecordKind.PAYMENT) -> None:
    """One payment (or refund) now: ConnectWise reads money only under its invoice, so it
    must be money ingest has seen (its invoice is in sync_records)."""
    row = p.store.known(kind, str(record_id))
    invoice_id = ((row or {}).get("snapshot") or {}).get("invoice_id")
    if not invoice_id:
        raise LookupError(
            f"{kind.value} {record_id}: not seen by ingest yet, so its invoice is unknown; "
            f"run a {kind.value} cycle to read it"
        )
    invoice = p.client.invoice(invoice_id, record_type=kind.value)
    payments = {str(pay["id"]): pay for pay in _payments_of(p.client, [invoice])[int(invoice_id)]}
    observed = p.clock()
    if str(record_id) in payments:
        event = to_payment_event(payments[str(record_id)], invoice, Reading("FORCE_SYNC", observed))
    else:
        gone = Gone.from_row(row, observed_at=observed, trigger="FORCE_SYNC", cw_id=record_id)
        event = deleted_payment_event(gone, kind)
    _record(p, kind, [event], observed, result)
