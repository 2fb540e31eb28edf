"""One pending write settled by what crash recovery found in Xero: found, the ledger
takes it as the write's outcome (RECOVERED, with the content that was being written);
not found, the entry is left to be written afresh. Shared by the recovery of
documents (`recovery.py`) and of money (`money_recovery.py`)."""

from __future__ import annotations

from ..common.lifecycle import Event
from .ledger import Entry, Outcome


def settle_one(
    entry: Entry,
    match: dict | None,
    id_field: str,
    outcomes: list[Outcome],
    unsettled: list[Entry],
    status_if_unsaid: str | None = None,
) -> None:
    if match is None or not match.get(id_field):
        unsettled.append(entry)
        return
    outcomes.append(
        Outcome(
            entry.record_type,
            entry.cw_id,
            "RECOVERED",
            Event.WRITTEN,
            xero_id=str(match[id_field]),
            xero_status=match.get("Status") or status_if_unsaid,
            written_hash=entry.pending_hash,
            natural_key=entry.natural_key,
        )
    )
