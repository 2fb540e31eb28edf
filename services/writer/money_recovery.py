"""Settles money writes left pending by a crash before anything is written again.

A payment is found by its Reference, which carries the product's mark and the
ConnectWise id (see `common/echo.py`), so it is unique to the record; an
allocation by its credit note, invoice, amount and date (`AllocationKey`). A
removal in flight is settled by asking Xero whether the payment or allocation
is still there. Found: the ledger takes what Xero holds, and the redelivered
request sees it as done. Not found: the intent is cleared and it is written
afresh.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from ..common.allocation_key import AllocationKey
from ..integrations.xero.client import XeroClient, XeroOrg, xero_date
from .ledger import Entry, Ledger, Outcome
from .settle_one import settle_one

log = logging.getLogger(__name__)
REMOVED = "DELETED"
HELD = "AUTHORISED"  # what Xero holds of money found written (an allocation has no Status of its own)
TAGS = {"record_type": "recovery"}


def live(entry: Entry | None) -> bool:
    """Whether Xero holds this money (it was written and not removed since)."""
    return bool(entry and entry.xero_id and (entry.xero_status or "").upper() != REMOVED)


def allocation_key(entry: Entry) -> AllocationKey | None:
    try:
        return AllocationKey.parse(entry.natural_key or "")
    except ValueError:
        return None


def already_removed(client: XeroClient, org: XeroOrg, endpoint: str, entry: Entry, tags: dict | None = None) -> bool:
    if endpoint == "Payments":
        payment = client.get_one(org, "Payments", str(entry.xero_id), tags)
        return payment is None or str(payment.get("Status", "")).upper() == REMOVED
    key = allocation_key(entry)
    if key is None:
        return False
    note = client.get_one(org, "CreditNotes", key.credit_note_id, tags)
    return note is None or not any(
        a.get("AllocationID") == entry.xero_id and not a.get("IsDeleted") for a in note.get("Allocations") or []
    )


def settle(client: XeroClient, ledger: Ledger, org: XeroOrg, entries: list[Entry]) -> int:
    """Settles the pending money entries of one organisation; returns how many were found done in Xero."""
    outcomes: list[Outcome] = []
    unknown: list[Entry] = []
    creates = [e for e in entries if not live(e)]
    for e in (e for e in entries if live(e)):  # a removal in flight
        endpoint = "Allocations" if allocation_key(e) else "Payments"
        if already_removed(client, org, endpoint, e, TAGS):
            outcomes.append(
                Outcome(
                    e.record_type,
                    e.cw_id,
                    "RECOVERED",
                    None,
                    xero_id=e.xero_id,
                    xero_status=REMOVED,
                    natural_key=e.natural_key,
                )
            )
        else:
            unknown.append(e)
    payments = [e for e in creates if allocation_key(e) is None and e.natural_key]
    found = {
        p.get("Reference"): p
        for p in client.find_payments_by_reference(org, [e.natural_key for e in payments if e.natural_key], TAGS)
        if str(p.get("Status", "")).upper() != REMOVED
    }
    for e in payments:
        settle_one(e, found.get(e.natural_key), "PaymentID", outcomes, unknown, HELD)
    for e in creates:
        key = allocation_key(e)
        if key is not None:
            settle_one(e, _allocation(client, org, key, ledger, e), "AllocationID", outcomes, unknown, HELD)
        elif not e.natural_key:
            unknown.append(e)
    ledger.record(org.organisation_id, outcomes)
    if unknown:
        ledger.clear_pending(org.organisation_id, [e.key for e in unknown])
    log.info(
        "settled pending money writes of %s: %d done in Xero, %d not", org.organisation_id, len(outcomes), len(unknown)
    )
    return len(outcomes)


def _allocation(client: XeroClient, org: XeroOrg, key: AllocationKey, ledger: Ledger, entry: Entry) -> dict | None:
    """The allocation this entry was making, if Xero holds one no other record already owns."""
    note = client.get_one(org, "CreditNotes", key.credit_note_id, TAGS)
    owned = ledger.xero_ids(org.organisation_id, entry.record_type)
    for allocation in (note or {}).get("Allocations") or []:
        invoice = (allocation.get("Invoice") or {}).get("InvoiceID")
        if (
            not allocation.get("IsDeleted")
            and invoice == key.invoice_id
            and allocation.get("AllocationID") not in owned
            and Decimal(str(allocation.get("Amount"))) == key.amount
            and _day(allocation) == key.date
        ):
            return allocation
    return None


def _day(element: dict) -> str | None:
    return xero_date(element.get("DateString") or element.get("Date"))
