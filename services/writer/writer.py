"""Writes coalesced requests of one organisation to Xero and stores what happened.

For each record: content already written (same hash) -> UNCHANGED with no call;
otherwise Xero's status rules decide create, update, void, delete or a
rejection. Calls go in batches of up to 50 with summarizeErrors=false, so each
element comes back OK or ERROR on its own. The ledger records intent before a
call and the outcome after; results and exceptions are then published.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable

from ..common.lifecycle import Event
from ..integrations.xero.client import CredentialError, XeroClient, XeroOrg, XeroRequestError, XeroUnavailable
from . import recovery, status
from .batching import MAX_BATCH, WriteRequest, batches
from .ledger import Entry, Ledger, Outcome

log = logging.getLogger(__name__)


@dataclass
class Planned:
    request: WriteRequest
    decision: status.Decision

    @property
    def method(self) -> str:
        return "PUT" if self.decision.action == "CREATE" else "POST"


def idempotency_key(request_ids: list[str], method: str, endpoint: str) -> str:
    """The same requests in the same call always get the same key (Xero allows 128 characters)."""
    digest = hashlib.sha256("\n".join([method, endpoint, *request_ids]).encode()).hexdigest()
    return f"cz-{digest}"


def _total(element: dict) -> Decimal | None:
    try:
        value = element.get("Total")
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        return None


class OrganisationWriter:
    """Writes for any organisation; `publish(kind, record)` sends a result or an exception."""

    def __init__(self, client: XeroClient, ledger: Ledger, publish: Callable[[str, dict], None],
                 batch_size: int = MAX_BATCH):
        self.client, self.ledger, self.publish = client, ledger, publish
        self.batch_size = batch_size

    def write(self, organisation_id: str, requests: list[WriteRequest]) -> None:
        found = self.ledger.organisation(organisation_id)
        if found is None or found[1] == "disabled":
            why = "is not configured" if found is None else "is disabled"
            self._fail_all(requests, organisation_id, "organisation_unknown",
                           f"organisation {organisation_id} {why}; nothing was written to Xero")
            return
        org = found[0]
        settled: set[str] = set()  # request ids whose outcome is stored and published
        try:
            entries = self._entries_settled(org, requests)
            planned = self._plan(org, requests, entries, settled)
            for (endpoint, method), group in batches(planned, key=lambda p: (p.request.endpoint, p.method),
                                                      size=self.batch_size):
                self._write_batch(org, endpoint, method, group)
                settled.update(p.request.request_id for p in group)
        except CredentialError as exc:
            # Persistent: every remaining request fails now and a person reconnects the organisation.
            self._fail_unfinished(org, [r for r in requests if r.request_id not in settled], "xero_credential", str(exc))
        except XeroUnavailable as exc:
            self._fail_unfinished(org, [r for r in requests if r.request_id not in settled], "xero_unavailable", str(exc))
        except XeroRequestError as exc:  # a look-up of pending writes refused as a whole
            self._fail_unfinished(org, [r for r in requests if r.request_id not in settled], "xero_request", str(exc))

    def _entries_settled(self, org: XeroOrg, requests: list[WriteRequest]) -> dict[tuple[str, str], Entry]:
        keys = [(r.record_type, str(r.cw_id)) for r in requests]
        entries = self.ledger.entries(org.organisation_id, keys)
        pending = [e for e in entries.values() if e.pending_request_id]
        if pending:  # a write whose outcome was never stored: find out before writing again
            recovery.settle(self.client, self.ledger, org, pending)
            entries = self.ledger.entries(org.organisation_id, keys)
        return entries

    def _plan(self, org: XeroOrg, requests: list[WriteRequest], entries: dict, settled: set[str]) -> list[Planned]:
        planned, done = [], []
        for req in requests:
            entry = entries.get((req.record_type, str(req.cw_id)))
            if req.operation == "UPSERT" and entry and entry.xero_id and entry.written_hash == req.content_hash:
                self._result(req, "UNCHANGED", entry.xero_id, entry.xero_status)
                done.append(Outcome(req.record_type, str(req.cw_id), "UNCHANGED", Event.WRITTEN, entry.xero_id,
                                    entry.xero_status, natural_key=req.natural_key, observed_at=req.observed_at))
                settled.add(req.request_id)
                continue
            decision = status.plan(req.operation, req.body, req.id_field, entry.xero_id if entry else None,
                                   entry.xero_status if entry else None)
            if decision.action == "SKIP":
                self._result(req, "UNCHANGED", entry.xero_id if entry else None, entry.xero_status if entry else None)
                written = bool(entry and entry.xero_id)
                done.append(Outcome(req.record_type, str(req.cw_id), "UNCHANGED", Event.WRITTEN if written
                                    else Event.SKIPPED, natural_key=req.natural_key, error=decision.reason,
                                    observed_at=req.observed_at))
            elif decision.action == "REJECT":
                done.append(self._rejected(org, req, [decision.reason], "xero_status_rule", entry))
            else:
                planned.append(Planned(req, decision))
                continue
            settled.add(req.request_id)
        self.ledger.record(org.organisation_id, done)
        return planned

    def _write_batch(self, org: XeroOrg, endpoint: str, method: str, group: list[Planned]) -> None:
        ids = [p.request.request_id for p in group]
        key = idempotency_key(ids, method, endpoint)
        self.ledger.mark_pending(org.organisation_id, [
            (p.request.record_type, str(p.request.cw_id), p.request.natural_key, p.request.request_id,
             p.request.content_hash) for p in group], key)
        tags = {"record_type": group[0].request.record_type, "record_id": ",".join(str(p.request.cw_id) for p in group)}
        try:
            elements = self.client.write(org, endpoint, method, [p.decision.element for p in group], key, tags)
        except XeroRequestError as exc:
            # The call as a whole was refused, so nothing was saved: reject each, never retry in a loop.
            self.ledger.record(org.organisation_id,
                               [self._rejected(org, p.request, [exc.message], "xero_request") for p in group])
            return
        failed = sum(1 for e in elements if status.element_failed(e))
        log.info("%s %s %d %s to %s: %d ok, %d refused", method, endpoint, len(group), group[0].request.record_type,
                 org.organisation_id, len(group) - failed, failed)
        outcomes = []
        for planned_item, element in zip(group, elements):
            req = planned_item.request
            if status.element_failed(element):
                errors = status.element_errors(element) or ["Xero refused the element without a message"]
                outcomes.append(self._rejected(org, req, errors, "xero_validation"))
                continue
            outcome = status.outcome_of(planned_item.decision.action)
            xero_id = str(element.get(req.id_field) or "") or None
            outcomes.append(Outcome(req.record_type, str(req.cw_id), outcome, Event.WRITTEN, xero_id=xero_id,
                                    xero_status=element.get("Status"), written_hash=req.content_hash,
                                    natural_key=req.natural_key, observed_at=req.observed_at))
            self._result(req, outcome, xero_id, element.get("Status"), total=_total(element))
        self.ledger.record(org.organisation_id, outcomes)

    # -- Outcomes --------------------------------------------------------------------------------

    def _rejected(self, org: XeroOrg, req: WriteRequest, errors: list[str], kind: str,
                  entry: Entry | None = None) -> Outcome:
        message = f"Xero refused {req.record_type} {req.natural_key} (ConnectWise id {req.cw_id}): " + "; ".join(errors)
        self._result(req, "REJECTED", entry.xero_id if entry else None, entry.xero_status if entry else None, errors)
        self._exception(req, kind, message, {"errors": "\n".join(errors), "request_id": req.request_id})
        return Outcome(req.record_type, str(req.cw_id), "REJECTED", Event.REJECTED, natural_key=req.natural_key,
                       error=message, observed_at=req.observed_at)

    def _fail_unfinished(self, org: XeroOrg, requests: list[WriteRequest], kind: str, message: str) -> None:
        """Fails every request whose write has not been settled. A call that may have reached
        Xero stays pending in the ledger, so the next write of that record looks it up first."""
        entries = self.ledger.entries(org.organisation_id, [(r.record_type, str(r.cw_id)) for r in requests])
        outcomes = []
        for req in requests:
            entry = entries.get((req.record_type, str(req.cw_id)))
            # Any write still pending may have reached Xero (this one, or one before a crash):
            # it stays pending, so the next write of the record looks it up first.
            in_flight = bool(entry and entry.pending_request_id)
            self._result(req, "FAILED", errors=[message])
            self._exception(req, kind, message, {"request_id": req.request_id})
            outcomes.append(Outcome(req.record_type, str(req.cw_id), "FAILED", Event.FAILED, natural_key=req.natural_key,
                                    error=message, keep_pending=in_flight, observed_at=req.observed_at))
        self.ledger.record(org.organisation_id, outcomes)

    def _fail_all(self, requests: list[WriteRequest], organisation_id: str, kind: str, message: str) -> None:
        for req in requests:
            self._result(req, "FAILED", errors=[message])
            self._exception(req, kind, message, {"request_id": req.request_id})

    def _result(self, req: WriteRequest, outcome: str, xero_id: str | None = None, xero_status: str | None = None,
                errors: list[str] | None = None, total: Decimal | None = None) -> None:
        self.publish("result", {
            "request_id": req.request_id, "organisation_id": req.organisation_id, "record_type": req.record_type,
            "cw_id": req.cw_id, "outcome": outcome, "xero_id": xero_id, "xero_status": xero_status,
            "errors": errors or [], "total": total, "written_at": datetime.now(timezone.utc)})

    def _exception(self, req: WriteRequest, kind: str, message: str, details: dict[str, str]) -> None:
        self.publish("exception", {
            "exception_id": str(uuid.uuid4()), "kind": kind, "record_type": req.record_type,
            "record_id": str(req.cw_id), "organisation_id": req.organisation_id, "customer": None,
            "message": message, "details": details, "audit_entry_id": None,
            "raised_at": datetime.now(timezone.utc)})
