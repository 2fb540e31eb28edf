"""Xero's status rules applied before a write: pure logic.

Xero lets a DRAFT or SUBMITTED invoice (or credit note) be DELETED, an
AUTHORISED one only be VOIDED and only while it has no payments, and a PAID one
not be changed at all until its payments are removed. Approvals belong to
Xero: a record someone approved there must never be moved back to DRAFT by a
ConnectWise edit. A change the rules forbid is decided here, before any call,
as a rejection that becomes an exception for a person to look at, so it is
never retried in a loop.

Whether an AUTHORISED record has payments is left to Xero: they are mostly
entered there, and nothing this product holds is current about them (the balances
ingest reads lag by up to a payment cycle, and would refuse a void whose
payments a person has just removed). Xero refuses such a void or edit element by
element, changing nothing, and the writer turns the refusal into the same
exception, with advice (`refusal` in writer.py).

Xero marks an approved document of nothing PAID at once, and then refuses every
change to it. The mapper writes a new one of nothing as a draft; an approved one
that ConnectWise brings to nothing is refused here, so it stays changeable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

APPROVED = {"AUTHORISED", "PAID"}
EDITABLE_DRAFTS = {"DRAFT", "SUBMITTED"}
FINAL = {"VOIDED", "DELETED"}


@dataclass(frozen=True)
class Decision:
    """What to send: `action` CREATE, UPDATE, VOID, DELETE; SKIP (nothing to do);
    REJECT (a status rule forbids it, `reason` says which)."""

    action: str
    element: dict | None = None
    reason: str = ""


def plan(
    operation: str,
    body: dict,
    id_field: str,
    xero_id: str | None,
    xero_status: str | None,
    total: Decimal | None = None,
) -> Decision:
    """Decides the write for one record from what the ledger knows of it in Xero (`total`: ConnectWise's)."""
    status = (xero_status or "").upper()
    if operation == "UPSERT":
        return _plan_upsert(body, id_field, xero_id, status, total)
    if operation in ("VOID", "DELETE"):
        return _plan_removal(id_field, xero_id, status)
    raise ValueError(f"operation: must be UPSERT, VOID or DELETE, got {operation!r}")


def _plan_upsert(body: dict, id_field: str, xero_id: str | None, status: str, total: Decimal | None) -> Decision:
    if not xero_id:
        return Decision("CREATE", {k: v for k, v in body.items() if k != id_field})
    if status in FINAL:
        return Decision("REJECT", reason=f"the record is {status} in Xero and cannot be changed")
    if status == "PAID":
        return Decision(
            "REJECT", reason="the record is PAID in Xero and cannot be changed; remove the payments in Xero first"
        )
    if status in APPROVED and total == 0:
        return Decision(
            "REJECT",
            reason="ConnectWise now totals 0.00: written to this approved document, Xero would mark it paid and "
            "refuse every change after; void it in Xero if nothing is owed, or give it an amount in ConnectWise",
        )
    element = dict(body)
    element[id_field] = xero_id
    requested = str(element.get("Status") or "").upper()
    if status in APPROVED and requested in EDITABLE_DRAFTS | {""}:
        element["Status"] = status  # approved in Xero stays approved
    elif requested in EDITABLE_DRAFTS | {""} and status in EDITABLE_DRAFTS:
        # Leave the status out: if someone approved the record in Xero since our
        # last write, Xero keeps that approval instead of taking our DRAFT.
        element.pop("Status", None)
    return Decision("UPDATE", element)


def _plan_removal(id_field: str, xero_id: str | None, status: str) -> Decision:
    if not xero_id or status in FINAL:
        return Decision("SKIP", reason="nothing in Xero to remove" if not xero_id else f"already {status} in Xero")
    if status in EDITABLE_DRAFTS:
        # A draft cannot be voided in Xero; deleting it is the equivalent.
        return Decision("DELETE", {id_field: xero_id, "Status": "DELETED"})
    if status == "PAID":
        return Decision(
            "REJECT", reason="the record is PAID in Xero and cannot be voided; remove the payments in Xero first"
        )
    if status == "AUTHORISED":
        return Decision("VOID", {id_field: xero_id, "Status": "VOIDED"})
    return Decision("REJECT", reason=f"a record in status {status or 'unknown'} cannot be voided or deleted")


def outcome_of(action: str) -> str:
    """The write-result outcome for an action that Xero accepted."""
    return {"CREATE": "CREATED", "UPDATE": "UPDATED", "VOID": "VOIDED", "DELETE": "DELETED"}[action]


def element_errors(element: dict) -> list[str]:
    """Xero's validation messages for one element of a summarizeErrors=false answer."""
    return [str(e.get("Message", "")) for e in element.get("ValidationErrors") or [] if e.get("Message")]


def element_failed(element: dict) -> bool:
    return str(element.get("StatusAttributeString", "")).upper() == "ERROR" or bool(element.get("HasErrors"))
