"""Settles writes left pending by a crash before anything is written again.

Xero remembers an Idempotency-Key only for a short while, and a restarted
writer may batch the redelivered requests differently (so with other keys).
A pending create is therefore looked up in Xero by what identifies it:
sales invoices by InvoiceNumber, credit notes by CreditNoteNumber (Xero keeps
both unique), bills by contact (its id, or the name Xero created it from),
number and date (their numbers are not unique). Found: the ledger takes the
Xero id and the content that was being written, so the redelivered request is
seen as UNCHANGED. Not found: the intent is cleared and the request is written
afresh. A pending update is simply cleared: writing the same content again
changes nothing.
"""

from __future__ import annotations

import logging

from ..common.natural_key import NaturalKey
from ..common.record_kinds import RecordKind, XeroDocument
from ..integrations.xero.client import XeroClient, XeroOrg
from .ledger import Entry, Ledger, Outcome
from .settle_one import settle_one

log = logging.getLogger(__name__)


def _best(found: list[dict]) -> dict | None:
    """Prefers a live record to a deleted or voided one carrying the same number."""
    live = [f for f in found if f.get("Status") not in ("DELETED", "VOIDED")]
    candidates = live or found
    return candidates[0] if candidates else None


def _key(entry: Entry) -> NaturalKey | None:
    try:
        return NaturalKey.parse(entry.natural_key or "")
    except ValueError:
        return None


def settle(client: XeroClient, ledger: Ledger, org: XeroOrg, entries: list[Entry]) -> int:
    """Settles the pending entries of one organisation; returns how many were found in Xero."""
    updates = [e for e in entries if e.xero_id]
    creates = [e for e in entries if not e.xero_id]
    if updates:
        ledger.clear_pending(org.organisation_id, [e.key for e in updates])
    outcomes: list[Outcome] = []
    missing: list[Entry] = []
    tags = {"record_type": "recovery"}
    by_number: dict[XeroDocument, list[tuple[Entry, NaturalKey]]] = {}
    for e in creates:
        key, doc = _key(e), RecordKind.parse(e.record_type).xero
        if key is None:
            missing.append(e)
        elif key.is_bill:
            match = _best(client.find_bill(org, key, tags))
            settle_one(e, match, doc.id_field, outcomes, missing)
        else:
            by_number.setdefault(doc, []).append((e, key))
    for doc, group in by_number.items():
        found: dict[str, list[dict]] = {}
        for item in client.find_by_numbers(org, doc.endpoint, [key.number for _, key in group], tags):
            found.setdefault(str(item.get(doc.number_field)), []).append(item)
        for e, key in group:
            settle_one(e, _best(found.get(key.number, [])), doc.id_field, outcomes, missing)
    ledger.record(org.organisation_id, outcomes)
    if missing:
        ledger.clear_pending(org.organisation_id, [e.key for e in missing])
    if outcomes or missing:
        log.info(
            "settled pending writes of %s: %d found in Xero, %d not written",
            org.organisation_id,
            len(outcomes),
            len(missing),
        )
    return len(outcomes)
