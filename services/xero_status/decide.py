"""What Xero's state of a record we wrote means to us. Pure.

Xero reports a state; the ledger knows the state we last wrote or read. The same
state is nothing new (our own write coming back, or Xero sending again). Otherwise
the new state is a fact about the record, and:
- VOIDED or DELETED when we had not removed it: someone did it in Xero, the books
  now disagree; a person decides which side is right, and the writer's status
  rules never write over a removed record;
- approved (AUTHORISED or PAID) after DRAFT or SUBMITTED: money waiting for the
  document may now be written.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.record_kinds import RecordKind
from ..common.written import Held

REMOVED = frozenset({"VOIDED", "DELETED"})
APPROVED = frozenset({"AUTHORISED", "PAID"})
STATUSES = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"})


@dataclass(frozen=True)
class StateChange:
    held: Held
    previous: str | None
    status: str
    number: str
    disagreement: str | None = None  # why the books now disagree, when they do
    approved: bool = False

    @property
    def exception_kind(self) -> str:
        return f"{self.status.lower()}_in_xero"


def decide(held: Held, status: str | None, number: str | None = None) -> StateChange | None:
    """The change Xero's `status` is for a record the ledger `held`, or None when it is none."""
    status = (status or "").upper()
    if status not in STATUSES:
        return None  # not a document state we know (Xero answered without one)
    previous = (held.xero_status or "").upper() or None
    if status == previous:
        return None
    label = RecordKind(held.record_type).label
    shown = number or held.natural_key or held.xero_id
    disagreement = None
    if status in REMOVED and previous not in REMOVED:
        disagreement = (
            f"The {label} {shown} (ConnectWise id {held.cw_id}) was {status} in Xero (organisation "
            f"{held.organisation_id}) after Connect Zero wrote it, so the books now disagree. Connect Zero "
            f"will not write over it: if Xero is right, void it in ConnectWise too; if ConnectWise is "
            f"right, enter it in Xero again by hand."
        )
    return StateChange(
        held, previous, status, shown, disagreement, approved=status in APPROVED and previous not in APPROVED
    )
