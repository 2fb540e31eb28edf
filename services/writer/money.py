"""Writes ConnectWise money to Xero for one organisation: payments (on invoices,
or on credit notes for refunds) and credit note allocations.

Xero's rules for money differ from documents': a payment or an allocation is
never edited, only deleted and made again. So an UPSERT whose content Xero
already holds is UNCHANGED, a changed one removes what Xero holds and creates
the new one, and a DELETE removes it. Payments are created in batches of up to
50 (one PUT /Payments); allocations in one PUT per credit note. Removals go
one call each, as Xero takes them. Intent is in the ledger before each call;
`money_recovery.py` settles what a crash left pending before anything is
written again, and a removal that finds the payment already gone counts as done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..common.lifecycle import Event
from ..integrations.xero.client import XeroClient, XeroOrg, XeroRequestError
from . import money_recovery, status
from .batching import MAX_BATCH, WriteRequest, batches, idempotency_key
from .ledger import Entry, Ledger, Outcome
from .report import Reporter

log = logging.getLogger(__name__)
REMOVED = money_recovery.REMOVED
_live = money_recovery.live


@dataclass
class _Create:
    request: WriteRequest

    @property
    def group(self) -> tuple[str, str]:
        """What one call can carry: all payments, or the allocations of one credit note."""
        if self.request.endpoint == "Payments":
            return ("Payments", "")
        return ("Allocations", str((self.request.body.get("CreditNote") or {}).get("CreditNoteID") or ""))


class MoneyWriter:
    def __init__(self, client: XeroClient, ledger: Ledger, report: Reporter, batch_size: int = MAX_BATCH):
        self.client, self.ledger, self.report, self.batch_size = client, ledger, report, batch_size

    def write(self, org: XeroOrg, requests: list[WriteRequest], settled: set[str]) -> None:
        entries = self.ledger.entries_settled(
            org.organisation_id,
            [(r.record_type, str(r.cw_id)) for r in requests],
            lambda pending: money_recovery.settle(self.client, self.ledger, org, pending),
        )
        creates: list[_Create] = []
        done: list[Outcome] = []
        for req in requests:
            entry = entries.get((req.record_type, str(req.cw_id)))
            live = entry if _live(entry) else None  # the entry of money Xero holds
            if req.operation not in ("UPSERT", "DELETE"):
                done.append(
                    self.report.rejected(
                        req, [f"operation {req.operation} does not apply to money"], "bad_request", entry
                    )
                )
            elif req.operation == "UPSERT" and live and live.written_hash == req.content_hash:
                done.append(self.report.unchanged(req, entry))
            elif req.operation == "DELETE" and not live:
                done.append(self.report.unchanged(req, entry, "nothing in Xero to remove"))
            elif live and (
                not self._remove(org, req, live, final=req.operation == "DELETE") or req.operation == "DELETE"
            ):
                pass  # removed (or refused), and reported
            else:
                creates.append(_Create(req))
                continue
            settled.add(req.request_id)
        self.ledger.record(org.organisation_id, done)
        for (endpoint, credit_note), group in batches(creates, key=lambda c: c.group, size=self.batch_size):
            self._create(org, endpoint, credit_note, [c.request for c in group])
            settled.update(c.request.request_id for c in group)

    # -- Removal ------------------------------------------------------------------------------

    def _remove(self, org: XeroOrg, req: WriteRequest, entry: Entry, final: bool) -> bool:
        """Deletes what Xero holds for this record. `final`: the request is the removal (a
        ConnectWise deletion); otherwise a new version is created next. False when refused."""
        assert entry.xero_id
        key = idempotency_key([req.request_id, "remove"], "DELETE", req.endpoint)
        self.ledger.mark_pending(
            org.organisation_id,
            [(req.record_type, str(req.cw_id), entry.natural_key or "", req.request_id, entry.written_hash or "")],
            key,
        )
        tags = {"record_type": req.record_type, "record_id": str(req.cw_id)}
        try:
            if req.endpoint == "Allocations":
                credit_note = _credit_note_of(req, entry)
                self.client.delete_allocation(org, credit_note, entry.xero_id, tags)
            else:
                self.client.delete_payment(org, entry.xero_id, key, tags)
        except XeroRequestError as exc:
            if not money_recovery.already_removed(self.client, org, req.endpoint, entry, tags):
                self.ledger.record(
                    org.organisation_id,
                    [
                        self.report.rejected(
                            req,
                            [exc.message],
                            "xero_validation",
                            entry,
                            "Remove it in Xero by hand, then force-sync it",
                        )
                    ],
                )
                return False
        removed = Outcome(
            req.record_type,
            str(req.cw_id),
            "DELETED",
            None,
            xero_id=entry.xero_id,
            xero_status=REMOVED,
            natural_key=entry.natural_key,
            observed_at=req.observed_at,
        )
        if final:
            self.report.result(req, "DELETED", entry.xero_id, REMOVED)
            removed = Outcome(
                req.record_type,
                str(req.cw_id),
                "DELETED",
                Event.WRITTEN,
                xero_id=entry.xero_id,
                xero_status=REMOVED,
                written_hash=req.content_hash,
                natural_key=entry.natural_key,
                observed_at=req.observed_at,
            )
        self.ledger.record(org.organisation_id, [removed])
        return True

    # -- Creation -----------------------------------------------------------------------------

    def _create(self, org: XeroOrg, endpoint: str, credit_note: str, group: list[WriteRequest]) -> None:
        path = "Payments" if endpoint == "Payments" else f"CreditNotes/{credit_note}/Allocations"
        key = idempotency_key([r.request_id for r in group], "PUT", path)
        self.ledger.mark_pending(
            org.organisation_id,
            [(r.record_type, str(r.cw_id), r.natural_key, r.request_id, r.content_hash) for r in group],
            key,
        )
        elements = [_element(r) for r in group]
        tags = {"record_type": group[0].record_type, "record_id": ",".join(str(r.cw_id) for r in group)}
        try:
            if endpoint == "Allocations" and not credit_note:
                raise XeroRequestError(400, "the allocation names no credit note")
            answered = self.client.write(org, path, "PUT", elements, key, tags, collection=endpoint)
        except XeroRequestError as exc:
            self.ledger.record(
                org.organisation_id, [self.report.rejected(r, [exc.message], "xero_request") for r in group]
            )
            return
        outcomes = []
        for req, element in zip(group, answered, strict=True):  # the client checks the count
            if status.element_failed(element):
                errors = status.element_errors(element) or ["Xero refused it without a message"]
                outcomes.append(self.report.rejected(req, errors, "xero_validation", advice=_advice(req)))
            else:
                outcomes.append(self.report.written(req, "CREATED", element, req.id_field))
        failed = sum(1 for o in outcomes if o.outcome == "REJECTED")
        log.info(
            "PUT %s %d %s to %s: %d ok, %d refused",
            path,
            len(group),
            group[0].record_type,
            org.organisation_id,
            len(group) - failed,
            failed,
        )
        self.ledger.record(org.organisation_id, outcomes)


def _element(req: WriteRequest) -> dict:
    """What Xero is sent: an allocation's credit note is in the URL, not the element."""
    if req.endpoint == "Allocations":
        return {k: v for k, v in req.body.items() if k != "CreditNote"}
    return dict(req.body)


def _credit_note_of(req: WriteRequest, entry: Entry) -> str:
    credit_note = (req.body.get("CreditNote") or {}).get("CreditNoteID")
    if credit_note:
        return str(credit_note)
    known = money_recovery.allocation_key(entry)
    if known is None:
        raise XeroRequestError(400, "the allocation's credit note is not known")
    return known.credit_note_id


def _advice(req: WriteRequest) -> str:
    if req.endpoint == "Allocations":
        return (
            "Xero allocates no more than the credit left on the note and the amount due on the invoice: "
            "check both in Xero and ConnectWise, then force-sync it"
        )
    return "Check the invoice or credit note in Xero (approved, amount due), then force-sync it"
