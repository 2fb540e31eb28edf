"""How the writer tells the rest of the product what became of a write request:
a result on xero.write_results.v1 for every request, an exception on
sync.exceptions.v1 for what a person must look at, and the ledger outcome that
goes with each. Used by the document and the money writers alike."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from ..common.lifecycle import Event
from .adoption import KIND as ADOPTION_MISMATCH
from .adoption import Differs
from .batching import WriteRequest
from .ledger import Entry, Outcome


class Reporter:
    def __init__(self, publish: Callable[[str, dict], None]):
        self.publish = publish

    def result(
        self,
        req: WriteRequest,
        outcome: str,
        xero_id: str | None = None,
        xero_status: str | None = None,
        errors: list[str] | None = None,
        total: Decimal | None = None,
    ) -> None:
        self.publish(
            "result",
            {
                "request_id": req.request_id,
                "organisation_id": req.organisation_id,
                "record_type": req.record_type,
                "cw_id": req.cw_id,
                "outcome": outcome,
                "xero_id": xero_id,
                "xero_status": xero_status,
                "errors": errors or [],
                "total": total,
                "written_at": datetime.now(timezone.utc),
            },
        )

    def exception(self, req: WriteRequest, kind: str, message: str, details: dict[str, str]) -> None:
        self.publish(
            "exception",
            {
                "exception_id": str(uuid.uuid4()),
                "kind": kind,
                "record_type": req.record_type,
                "record_id": str(req.cw_id),
                "organisation_id": req.organisation_id,
                "customer": None,
                "message": message,
                "details": details,
                "audit_entry_id": None,
                "raised_at": datetime.now(timezone.utc),
            },
        )

    def rejected(
        self, req: WriteRequest, errors: list[str], kind: str, entry: Entry | None = None, advice: str = ""
    ) -> Outcome:
        """Xero (or one of its status rules) refused the write: a person looks at it, nothing is retried."""
        message = (
            f"Xero refused {req.record_type} {req.natural_key} (ConnectWise id {req.cw_id}): "
            + "; ".join(errors)
            + (f". {advice}" if advice else "")
        )
        self.result(req, "REJECTED", entry.xero_id if entry else None, entry.xero_status if entry else None, errors)
        self.exception(req, kind, message, {"errors": "\n".join(errors), "request_id": req.request_id})
        return _rejected(req, message)

    def unchanged(self, req: WriteRequest, entry: Entry | None, why: str | None = None) -> Outcome:
        """Nothing to write: Xero already holds this, or there is nothing there to remove."""
        held = bool(entry and entry.xero_id)
        self.result(req, "UNCHANGED", entry.xero_id if entry else None, entry.xero_status if entry else None)
        return Outcome(
            req.record_type,
            str(req.cw_id),
            "UNCHANGED",
            Event.WRITTEN if held else Event.SKIPPED,
            entry.xero_id if entry else None,
            entry.xero_status if entry else None,
            natural_key=req.natural_key,
            error=why,
            observed_at=req.observed_at,
        )

    def written(
        self, req: WriteRequest, outcome: str, element: dict, id_field: str, total: Decimal | None = None
    ) -> Outcome:
        xero_id = str(element.get(id_field) or "") or None
        status = element.get("Status") or ("DELETED" if outcome == "DELETED" else None)
        self.result(req, outcome, xero_id, status, total=total)
        return Outcome(
            req.record_type,
            str(req.cw_id),
            outcome,
            Event.WRITTEN,
            xero_id=xero_id,
            xero_status=status,
            written_hash=req.content_hash,
            natural_key=req.natural_key,
            observed_at=req.observed_at,
        )

    def adopted(self, req: WriteRequest, document: dict, id_field: str) -> Outcome:
        """Xero already holds a document that stands for this one: linked, nothing written. To the rest
        of the product it is what Xero held unchanged; the ledger keeps it was adopted."""
        xero_id, status = str(document.get(id_field) or "") or None, document.get("Status")
        self.result(req, "UNCHANGED", xero_id, status)
        return Outcome(
            req.record_type,
            str(req.cw_id),
            "ADOPTED",
            Event.WRITTEN,
            xero_id=xero_id,
            xero_status=status,
            written_hash=req.content_hash,
            natural_key=req.natural_key,
            error=f"adopted the document Xero already held ({xero_id})",
            observed_at=req.observed_at,
        )

    def differs(self, req: WriteRequest, found: Differs) -> Outcome:
        """A document in Xero carries this one's number but differs: both sides go to a person."""
        self.result(req, "REJECTED", errors=[found.message])
        self.exception(req, ADOPTION_MISMATCH, found.message, {**found.details, "request_id": req.request_id})
        return _rejected(req, found.message)


def _rejected(req: WriteRequest, message: str) -> Outcome:
    return Outcome(
        req.record_type,
        str(req.cw_id),
        "REJECTED",
        Event.REJECTED,
        natural_key=req.natural_key,
        error=message,
        observed_at=req.observed_at,
    )
