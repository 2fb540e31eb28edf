"""Settles writes left pending by a crash before anything is written again.

Xero remembers an Idempotency-Key only for a short while, and a restarted
writer may batch the redelivered requests differently (so with other keys).
A pending create is therefore looked up in Xero by what identifies it:
sales invoices by InvoiceNumber, credit notes by CreditNoteNumber (Xero keeps
both unique), bills by contact, number and date (their numbers are not
unique). Found: the ledger takes the Xero id and the content that was being
written, so the redelivered request is seen as UNCHANGED. Not found: the
intent is cleared and the request is written afresh. A pending update is
simply cleared: writing the same content again changes nothing.
"""
from __future__ import annotations

import logging

from ..common.xero_client import XeroClient, XeroOrg
from .ledger import Entry, Ledger, Outcome

log = logging.getLogger(__name__)


def endpoint_of(record_type: str) -> str:
    return "CreditNotes" if record_type == "credit_note" else "Invoices"


def _number_field(endpoint: str) -> str:
    return "CreditNoteNumber" if endpoint == "CreditNotes" else "InvoiceNumber"


def _id_field(endpoint: str) -> str:
    return "CreditNoteID" if endpoint == "CreditNotes" else "InvoiceID"


def _best(found: list[dict]) -> dict | None:
    """Prefers a live record to a deleted or voided one carrying the same number."""
    live = [f for f in found if f.get("Status") not in ("DELETED", "VOIDED")]
    return (live or found or [None])[0]


def settle(client: XeroClient, ledger: Ledger, org: XeroOrg, entries: list[Entry]) -> int:
    """Settles the pending entries of one organisation; returns how many were found in Xero."""
    updates = [e for e in entries if e.xero_id]
    creates = [e for e in entries if not e.xero_id]
    if updates:
        ledger.clear_pending(org.organisation_id, [e.key for e in updates])
    outcomes: list[Outcome] = []
    missing: list[Entry] = []
    tags = {"record_type": "recovery"}
    by_number: dict[str, list[Entry]] = {}
    for e in creates:
        if e.natural_key and "|" in e.natural_key:
            contact, number, date = e.natural_key.split("|", 2)
            match = _best(client.find_bill(org, contact, number, date, tags))
            _settle_one(e, match, "InvoiceID", outcomes, missing)
        elif e.natural_key:
            by_number.setdefault(endpoint_of(e.record_type), []).append(e)
        else:
            missing.append(e)
    for endpoint, group in by_number.items():
        found: dict[str, list[dict]] = {}
        for item in client.find_by_numbers(org, endpoint, [e.natural_key for e in group], tags):
            found.setdefault(str(item.get(_number_field(endpoint))), []).append(item)
        for e in group:
            _settle_one(e, _best(found.get(e.natural_key, [])), _id_field(endpoint), outcomes, missing)
    ledger.record(org.organisation_id, outcomes)
    if missing:
        ledger.clear_pending(org.organisation_id, [e.key for e in missing])
    if outcomes or missing:
        log.info("settled pending writes of %s: %d found in Xero, %d not written", org.organisation_id,
                 len(outcomes), len(missing))
    return len(outcomes)


def _settle_one(entry: Entry, match: dict | None, id_field: str, outcomes: list[Outcome], missing: list[Entry]) -> None:
    if match is None or not match.get(id_field):
        missing.append(entry)
        return
    outcomes.append(Outcome(entry.record_type, entry.cw_id, "RECOVERED", "synced", xero_id=str(match[id_field]),
                            xero_status=match.get("Status"), written_hash=entry.pending_hash,
                            natural_key=entry.natural_key))
