"""ConnectWise payments (record type `payment`): events for `cw.payments.v1`.

ConnectWise lists payments only under their invoice
(`finance/invoices/{id}/payments`), and applying or removing one moves the
invoice's `_info.lastUpdated`, so the payment poll walks the invoices changed
since its cursor and reads the payments of those that carry any (or had some
ingest emitted before: a removed payment is emitted as DELETED). The
conversion functions are pure; `emit_payments_page` does the I/O.
"""
from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal

from .poller import (DELETED_PREFIX, SCALE, RecordError, event_id, content_hash, custom_fields, date_only,
                     dumps_cw_json, last_updated, money, ref, ref_id)
from .store import Emitted

log = logging.getLogger(__name__)
RECORD_TYPE = "payment"
WORKERS = 4
PAYMENT_SNAPSHOT_FIELDS = ("invoice_id", "invoice_number", "company_id", "company_identifier", "payment_type",
                           "payment_date", "location_id", "custom_fields")


def payment_hash(payment: dict, invoice: dict) -> str:
    """The payment's own content plus the invoice facts its event carries."""
    company = ref(invoice, "company")
    facts = {"number": invoice.get("invoiceNumber"), "company": company.get("id"),
             "location": ref_id(invoice, "locationId", "location"), "tags": custom_fields(invoice)}
    return content_hash({**payment, "_invoice": facts}, [])


def to_payment_event(payment: dict, invoice: dict, *, trigger: str = "SCHEDULE",
                     observed_at: datetime | None = None, hash_: str | None = None) -> dict:
    cw_id = event_id(payment, trigger)
    company = ref(invoice, "company")
    if company.get("id") is None:
        raise RecordError(cw_id, "invoice.company.id", "missing")
    paid_on = date_only(payment.get("paymentDate"))
    if not paid_on:
        raise RecordError(cw_id, "paymentDate", "missing")
    return {
        "record_type": RECORD_TYPE,
        "cw_id": int(cw_id),
        "trigger": trigger,
        "change": "UPSERT",
        "observed_at": observed_at or datetime.now(timezone.utc),
        "last_updated": last_updated(payment),
        "content_hash": hash_ or payment_hash(payment, invoice),
        "invoice_id": int(invoice["id"]),
        "invoice_number": str(invoice.get("invoiceNumber") or ref(payment, "invoice").get("identifier") or ""),
        "company_id": int(company["id"]),
        "company_identifier": str(company.get("identifier") or ""),
        "payment_type": payment.get("type") or None,
        "amount": money(payment.get("amount"), cw_id, "amount"),
        "payment_date": paid_on,
        "location_id": ref_id(invoice, "locationId", "location"),
        "custom_fields": custom_fields(invoice),
        "raw": dumps_cw_json(payment),
    }


def payment_snapshot_of(event: dict) -> dict:
    return {name: event.get(name) for name in PAYMENT_SNAPSHOT_FIELDS}


def deleted_payment_event(cw_id, snapshot: dict | None, *, observed_at: datetime, last_seen: datetime | None = None,
                          number: str | None = None, trigger: str = "SCHEDULE") -> dict:
    known = dict(snapshot or {})
    event = {name: known.get(name) for name in PAYMENT_SNAPSHOT_FIELDS}
    event.update({
        "record_type": RECORD_TYPE, "cw_id": int(cw_id), "trigger": trigger, "change": "DELETED",
        "observed_at": observed_at, "last_updated": last_seen or observed_at,
        "content_hash": DELETED_PREFIX + hashlib.sha256(f"{RECORD_TYPE}|{cw_id}".encode()).hexdigest(),
        "invoice_id": int(known.get("invoice_id") or 0),
        "invoice_number": str(known.get("invoice_number") or number or ""),
        "company_id": int(known.get("company_id") or 0),
        "company_identifier": str(known.get("company_identifier") or ""),
        "amount": Decimal(0).quantize(SCALE),
        "payment_date": str(known.get("payment_date") or ""),
        "custom_fields": list(known.get("custom_fields") or []),
        "raw": json.dumps({"id": int(cw_id), "deleted": True}),
    })
    return event


# --- I/O -----------------------------------------------------------------------------

def _payments_of(client, invoices: list[dict]) -> dict[int, list[dict]]:
    def read(invoice: dict) -> list[dict]:
        company = ref(invoice, "company")
        tags = {"record_type": RECORD_TYPE, "customer": company.get("name") or company.get("identifier")}
        return list(client.all(f"finance/invoices/{int(invoice['id'])}/payments", tags=tags))

    ids = [int(inv["id"]) for inv in invoices]
    if len(invoices) <= 1:
        return {i: read(inv) for i, inv in zip(ids, invoices)}
    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(ids, pool.map(read, invoices)))


def _record(p, events: list[dict], observed: datetime, result) -> None:
    if not events:
        return
    p.emitter.emit(RECORD_TYPE, events)
    p.store.record_emitted([
        Emitted(RECORD_TYPE, str(e["cw_id"]), e["invoice_number"], e["company_identifier"], e["content_hash"],
                e["last_updated"], e["amount"], payment_snapshot_of(e) if e["change"] == "UPSERT" else None)
        for e in events], observed)
    result.emitted += len(events)
    result.deleted += sum(1 for e in events if e["change"] == "DELETED")
    result.emitted_ids.extend(e["cw_id"] for e in events)


def emit_payments_page(p, invoices: list[dict], trigger: str, force: bool, result) -> None:
    """Emits the new, changed (all when `force`) and removed payments of a page of invoices."""
    known = p.store.payments_by_invoice([int(inv["id"]) for inv in invoices])
    candidates = [inv for inv in invoices if Decimal(str(inv.get("payments") or 0)) != 0 or int(inv["id"]) in known]
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
                events.append(to_payment_event(payment, inv, trigger=trigger, observed_at=observed, hash_=hash_))
            except (RecordError, ValueError, KeyError, TypeError) as exc:
                log.error("cannot convert ConnectWise payment %s: %s", payment.get("id"), exc)
                p.store.record_failed(RECORD_TYPE, str(payment.get("id")), str(exc))
                result.failed += 1
        for cw_id, row in before.items():
            if cw_id not in now_ids:
                events.append(deleted_payment_event(cw_id, row.get("snapshot"), observed_at=observed,
                                                    last_seen=row.get("last_updated"),
                                                    number=row.get("record_number"), trigger=trigger))
    _record(p, events, observed, result)


def force_sync_payment(p, record_id: str, result) -> None:
    """One payment now: ConnectWise reads a payment only under its invoice, so the
    payment must be one ingest has seen (its invoice is in sync_records)."""
    row = p.store.known(RECORD_TYPE, str(record_id))
    invoice_id = ((row or {}).get("snapshot") or {}).get("invoice_id")
    if not invoice_id:
        raise LookupError(f"payment {record_id}: not seen by ingest yet, so its invoice is unknown; "
                          "force-sync the invoice's payments by running a payment cycle")
    invoice = p.client.invoice(invoice_id, record_type=RECORD_TYPE)
    payments = {str(pay["id"]): pay for pay in _payments_of(p.client, [invoice])[int(invoice_id)]}
    observed = p.clock()
    if str(record_id) in payments:
        event = to_payment_event(payments[str(record_id)], invoice, trigger="FORCE_SYNC", observed_at=observed)
    else:
        event = deleted_payment_event(record_id, row.get("snapshot"), observed_at=observed,
                                      last_seen=row.get("last_updated"), number=row.get("record_number"),
                                      trigger="FORCE_SYNC")
    _record(p, [event], observed, result)
