"""What becomes of each document write request, decided before anything is written:
the content Xero already holds (UNCHANGED), Xero's status rules (`status.py`: an
update, a void, a delete, nothing to do, or a rejection), and for what would be
created, a document already in Xero that stands for it (`adoption.py`: ADOPT, or
DIFFERS). The writer acts on the verdicts; in a shadow run (`shadow.py`) they are only
reported. The only calls made here are Xero reads (adoption's look-ups)."""

from __future__ import annotations

from dataclasses import dataclass

from ..integrations.xero.client import XeroClient, XeroOrg
from . import status
from .adoption import Adopt, Differs, find_candidates, judge, number_of
from .batching import WriteRequest
from .ledger import Entry

UNCHANGED, SKIP, REJECT, ADOPT, DIFFERS = "UNCHANGED", "SKIP", "REJECT", "ADOPT", "DIFFERS"
WRITES = ("CREATE", "UPDATE", "VOID", "DELETE")


@dataclass(frozen=True)
class Verdict:
    request: WriteRequest
    action: str  # UNCHANGED, SKIP, REJECT, ADOPT, DIFFERS, or one of WRITES
    entry: Entry | None = None
    decision: status.Decision | None = None  # what to send, for a write
    adoption: Adopt | Differs | None = None
    reason: str = ""

    @property
    def element(self) -> dict:
        """What to send, for a write."""
        if self.decision is None or self.decision.element is None:
            raise ValueError(f"a {self.action} verdict sends nothing")
        return self.decision.element

    @property
    def method(self) -> str:
        return "PUT" if self.action == "CREATE" else "POST"


def decide(client: XeroClient, org: XeroOrg, requests: list[WriteRequest], entries: dict) -> list[Verdict]:
    verdicts = [_by_status(req, entries.get((req.record_type, str(req.cw_id)))) for req in requests]
    creates = [v.request for v in verdicts if v.action == "CREATE"]
    if not creates:
        return verdicts
    candidates = find_candidates(client, org, creates)
    return [
        _adopted(v, candidates.get(number_of(v.request), []), org.organisation_id) if v.action == "CREATE" else v
        for v in verdicts
    ]


def _by_status(req: WriteRequest, entry: Entry | None) -> Verdict:
    if req.operation == "UPSERT" and entry and entry.xero_id and entry.written_hash == req.content_hash:
        return Verdict(req, UNCHANGED, entry)
    decision = status.plan(
        req.operation,
        req.body,
        req.id_field,
        entry.xero_id if entry else None,
        entry.xero_status if entry else None,
        req.total,
    )
    if decision.action in (SKIP, REJECT):
        return Verdict(req, decision.action, entry, reason=decision.reason)
    return Verdict(req, decision.action, entry, decision)


def _adopted(verdict: Verdict, candidates: list[dict], org_id: str) -> Verdict:
    found = judge(verdict.request, candidates, org_id)
    if found is None:
        return verdict
    return Verdict(verdict.request, ADOPT if isinstance(found, Adopt) else DIFFERS, verdict.entry, adoption=found)
