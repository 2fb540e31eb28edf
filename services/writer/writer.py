"""Writes coalesced requests of one organisation to Xero and stores what happened.

For each record: content already written (same hash) -> UNCHANGED with no call;
otherwise Xero's status rules decide create, update, void, delete or a
rejection. Calls go in batches of up to 50 with summarizeErrors=false, so each
element comes back OK or ERROR on its own. The ledger records intent before a
call and the outcome after; results and exceptions are then published.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Callable

from ..common.lifecycle import Event
from ..integrations.xero.client import CredentialError, XeroClient, XeroOrg, XeroRequestError, XeroUnavailable
from . import recovery, status, verdicts
from .adoption import Adopt, Differs
from .batching import MAX_BATCH, WriteRequest, batches, idempotency_key
from .contact_details import ContactDetailsWriter
from .ledger import Ledger, Outcome
from .money import MoneyWriter
from .report import Reporter
from .shadow import ShadowRun

log = logging.getLogger(__name__)
MONEY_ENDPOINTS = ("Payments", "Allocations")
# What to do when Xero will not void or delete a document: it has money applied.
REMOVAL_ADVICE = (
    "Remove its payments and credit allocations in Xero (or in ConnectWise, and let them sync), then force-sync it"
)
# Xero refused a date its lock dates close: they moved since the catalog was read.
LOCK_ADVICE = (
    "The organisation's lock date has moved since Connect Zero read it: refresh its catalog so the "
    "organisation's lock_date_treatment applies, then force-sync it"
)


def refusal(errors: list[str], removing: bool) -> tuple[str, str]:
    """The exception kind and the advice for a document Xero refused."""
    if any("lock date" in e.lower() for e in errors):
        return "period_locked", LOCK_ADVICE
    return "xero_validation", REMOVAL_ADVICE if removing else ""


def unfinished(requests: list[WriteRequest], settled: set[str]) -> list[WriteRequest]:
    return [r for r in requests if r.request_id not in settled]


def _total(element: dict) -> Decimal | None:
    try:
        value = element.get("Total")
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        return None


class OrganisationWriter:
    """Writes for any organisation; `publish(kind, record)` sends a result or an exception."""

    def __init__(
        self, client: XeroClient, ledger: Ledger, publish: Callable[[str, dict], None], batch_size: int = MAX_BATCH
    ):
        self.client, self.ledger = client, ledger
        self.report = Reporter(publish)
        self.batch_size = batch_size
        self.money = MoneyWriter(client, ledger, self.report, batch_size)
        self.shadow = ShadowRun(client, ledger)
        self.contacts = ContactDetailsWriter(client, ledger)

    def write(self, organisation_id: str, requests: list[WriteRequest]) -> None:
        found = self.ledger.organisation(organisation_id)
        if found is None or found[1] == "disabled":
            why = "is not configured" if found is None else "is disabled"
            self._fail_all(
                requests, "organisation_unknown", f"organisation {organisation_id} {why}; nothing was written to Xero"
            )
            return
        org = found[0]
        settled: set[str] = set()  # request ids whose outcome is stored and published
        documents = [r for r in requests if r.endpoint not in MONEY_ENDPOINTS]
        money = [r for r in requests if r.endpoint in MONEY_ENDPOINTS]
        try:
            if self.shadow.active(organisation_id):
                self.shadow.decide(org, requests)  # decided and reported, nothing written
                return
            if documents:
                self.contacts.write(org, documents)  # before its documents: they are sent to that contact
                self._write_documents(org, documents, settled)
            if money:  # after documents: money applies to them
                self.money.write(org, money, settled)
        except CredentialError as exc:
            # Persistent: every remaining request fails now and a person reconnects the organisation.
            self._fail_unfinished(org, unfinished(requests, settled), "xero_credential", str(exc))
        except XeroUnavailable as exc:
            self._fail_unfinished(org, unfinished(requests, settled), "xero_unavailable", str(exc))
        except XeroRequestError as exc:  # a look-up (pending writes, documents to adopt) refused as a whole
            self._fail_unfinished(org, unfinished(requests, settled), "xero_request", str(exc))

    def _write_documents(self, org: XeroOrg, requests: list[WriteRequest], settled: set[str]) -> None:
        entries = self.ledger.entries_settled(
            org.organisation_id,
            [(r.record_type, str(r.cw_id)) for r in requests],
            lambda pending: recovery.settle(self.client, self.ledger, org, pending),
        )
        writes = self._settle_without_writing(org, verdicts.decide(self.client, org, requests, entries), settled)
        for (endpoint, method), group in batches(
            writes, key=lambda v: (v.request.endpoint, v.method), size=self.batch_size
        ):
            self._write_batch(org, endpoint, method, group)
            settled.update(v.request.request_id for v in group)

    def _settle_without_writing(self, org: XeroOrg, judged: list[verdicts.Verdict], settled: set[str]):
        """Reports every verdict that needs no write; returns those that do."""
        writes, done = [], []
        for verdict in judged:
            req, entry = verdict.request, verdict.entry
            if verdict.action in verdicts.WRITES:
                writes.append(verdict)
                continue
            if verdict.action in (verdicts.UNCHANGED, verdicts.SKIP):
                done.append(self.report.unchanged(req, entry, verdict.reason or None))
            elif isinstance(verdict.adoption, Adopt):
                done.append(self.report.adopted(req, verdict.adoption.document, req.id_field))
            elif isinstance(verdict.adoption, Differs):
                done.append(self.report.differs(req, verdict.adoption))
            else:
                advice = REMOVAL_ADVICE if req.operation in ("VOID", "DELETE") else ""
                done.append(self.report.rejected(req, [verdict.reason], "xero_status_rule", entry, advice))
            settled.add(req.request_id)
        self.ledger.record(org.organisation_id, done)
        return writes

    def _write_batch(self, org: XeroOrg, endpoint: str, method: str, group: list[verdicts.Verdict]) -> None:
        ids = [p.request.request_id for p in group]
        key = idempotency_key(ids, method, endpoint)
        self.ledger.mark_pending(
            org.organisation_id,
            [
                (
                    p.request.record_type,
                    str(p.request.cw_id),
                    p.request.natural_key,
                    p.request.request_id,
                    p.request.content_hash,
                )
                for p in group
            ],
            key,
        )
        tags = {"record_type": group[0].request.record_type, "record_id": ",".join(str(p.request.cw_id) for p in group)}
        try:
            elements = self.client.write(org, endpoint, method, [p.element for p in group], key, tags)
        except XeroRequestError as exc:
            # The call as a whole was refused, so nothing was saved: reject each, never retry in a loop.
            self.ledger.record(
                org.organisation_id, [self.report.rejected(p.request, [exc.message], "xero_request") for p in group]
            )
            return
        failed = sum(1 for e in elements if status.element_failed(e))
        log.info(
            "%s %s %d %s to %s: %d ok, %d refused",
            method,
            endpoint,
            len(group),
            group[0].request.record_type,
            org.organisation_id,
            len(group) - failed,
            failed,
        )
        outcomes = []
        for planned_item, element in zip(group, elements, strict=True):  # the client checks the count
            req = planned_item.request
            if status.element_failed(element):
                errors = status.element_errors(element) or ["Xero refused the element without a message"]
                removing = planned_item.action in ("VOID", "DELETE")
                kind, advice = refusal(errors, removing)
                outcomes.append(self.report.rejected(req, errors, kind, advice=advice))
                continue
            outcomes.append(
                self.report.written(
                    req, status.outcome_of(planned_item.action), element, req.id_field, total=_total(element)
                )
            )
        self.ledger.record(org.organisation_id, outcomes)

    # -- Failures --------------------------------------------------------------------------------

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
            self.report.result(req, "FAILED", errors=[message])
            self.report.exception(req, kind, message, {"request_id": req.request_id})
            outcomes.append(
                Outcome(
                    req.record_type,
                    str(req.cw_id),
                    "FAILED",
                    Event.FAILED,
                    natural_key=req.natural_key,
                    error=message,
                    keep_pending=in_flight,
                    observed_at=req.observed_at,
                )
            )
        self.ledger.record(org.organisation_id, outcomes)

    def _fail_all(self, requests: list[WriteRequest], kind: str, message: str) -> None:
        for req in requests:
            self.report.result(req, "FAILED", errors=[message])
            self.report.exception(req, kind, message, {"request_id": req.request_id})
