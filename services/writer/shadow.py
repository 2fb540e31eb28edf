"""An organisation in a shadow run: everything is decided as it would be, nothing is
written to Xero. The parallel-run month-end check an MSP does before cutting over, and
the preview of a mapping change.

The writer reads Xero as usual (what it already holds, documents to adopt) and, instead
of writing, reports for each record what would happen: create, update, adopt, void,
delete, skip, or which exception (an `adoption_mismatch` showing both sides, a status
rule). That goes into the shadow report and the record's status becomes `shadow`, the
would-be outcome its note. No result or exception is published and the ledger is left
alone: when the organisation goes live, its records are decided again and written
(`mapping/sync_settings.py` sends them through once more).
"""

from __future__ import annotations

from ..common.database import Database
from ..common.lifecycle import Event
from ..common.record_status import StatusChange, record_changes
from ..common.shadow_report import ShadowOutcome, record_outcomes
from ..integrations.xero.client import XeroClient, XeroOrg
from . import money_recovery, recovery, verdicts
from .adoption import KIND as ADOPTION_MISMATCH
from .adoption import Adopt, Differs
from .batching import WriteRequest
from .ledger import Entry, Ledger

MONEY_ENDPOINTS = ("Payments", "Allocations")
_WRITES = {"CREATE": "create", "UPDATE": "update", "VOID": "void", "DELETE": "delete"}


def in_shadow(db: Database, organisation_id: str) -> bool:
    with db.connection() as conn:
        row = conn.execute(
            "select mode from organisation_sync_settings where organisation_id = %s", (organisation_id,)
        ).fetchone()
    return row is not None and row["mode"] == "shadow"


def document_outcome(verdict: verdicts.Verdict) -> tuple[str, str | None, str, str | None]:
    """(outcome, detail, what would happen, the Xero id concerned) of a document's verdict."""
    req, entry = verdict.request, verdict.entry
    held = entry.xero_id if entry else None
    if verdict.action == verdicts.UNCHANGED:
        return "skip", "unchanged", "Xero already holds this content: nothing would be written", held
    if verdict.action == verdicts.SKIP:
        return "skip", "nothing_to_do", verdict.reason, held
    if verdict.action == verdicts.REJECT:
        return "exception", "xero_status_rule", verdict.reason, held
    found = verdict.adoption
    if isinstance(found, Adopt):
        return (
            "adopt",
            None,
            f"would adopt {found.xero_id}, the {req.kind.label} Xero already holds with this "
            f"number, contact and total ({found.document.get('Total')})",
            found.xero_id,
        )
    if isinstance(found, Differs):
        return "exception", ADOPTION_MISMATCH, found.message, found.details.get("xero_id") or None
    outcome = _WRITES[verdict.action]
    return outcome, None, f"would {outcome} the {req.kind.label} in Xero", held


def money_outcome(req: WriteRequest, entry: Entry | None) -> tuple[str, str | None, str, str | None]:
    live = money_recovery.live(entry)
    held = entry.xero_id if entry else None
    if req.operation == "DELETE":
        return (
            ("delete", None, "would delete it in Xero", held)
            if live
            else ("skip", "nothing_to_do", "nothing in Xero to remove", held)
        )
    if live and entry is not None and entry.written_hash == req.content_hash:
        return "skip", "unchanged", "Xero already holds this: nothing would be written", held
    if live:
        return "update", None, "would delete it in Xero and make it again (Xero never edits money)", held
    return "create", None, "would create it in Xero", None


class ShadowRun:
    def __init__(self, client: XeroClient, ledger: Ledger):
        self.client, self.ledger = client, ledger

    def active(self, organisation_id: str) -> bool:
        return in_shadow(self.ledger.db, organisation_id)

    def decide(self, org: XeroOrg, requests: list[WriteRequest]) -> None:
        """Decides every request as the writer would, and records that instead of writing."""
        documents = [r for r in requests if r.endpoint not in MONEY_ENDPOINTS]
        money = [r for r in requests if r.endpoint in MONEY_ENDPOINTS]
        decided: list[tuple[WriteRequest, tuple]] = []
        if documents:
            entries = self.ledger.entries_settled(
                org.organisation_id,
                [(r.record_type, str(r.cw_id)) for r in documents],
                lambda pending: recovery.settle(self.client, self.ledger, org, pending),
            )
            decided += [(v.request, document_outcome(v)) for v in verdicts.decide(self.client, org, documents, entries)]
        if money:
            entries = self.ledger.entries(org.organisation_id, [(r.record_type, str(r.cw_id)) for r in money])
            decided += [(r, money_outcome(r, entries.get((r.record_type, str(r.cw_id))))) for r in money]
        self._record(org.organisation_id, decided)

    def _record(self, organisation_id: str, decided: list[tuple[WriteRequest, tuple]]) -> None:
        outcomes, changes = [], []
        for req, (outcome, detail, message, xero_id) in decided:
            number = str(req.body.get(req.kind.xero.number_field) or "") if req.kind.xero.number_field else None
            outcomes.append(
                ShadowOutcome(
                    organisation_id,
                    req.record_type,
                    str(req.cw_id),
                    outcome,
                    detail,
                    message,
                    number or None,
                    None,
                    req.total,
                    xero_id,
                    req.observed_at,
                )
            )
            changes.append(
                StatusChange(
                    req.record_type,
                    str(req.cw_id),
                    Event.SHADOWED,
                    observed_at=req.observed_at,
                    error=f"shadow run: {message}",
                    organisation_id=organisation_id,
                    record_number=number or None,
                )
            )
        with self.ledger.db.unit_of_work() as conn:
            record_changes(conn, changes)
            record_outcomes(conn, outcomes)
