"""Postgres side of xero_status: which organisation a Xero tenant is, what the writer's
ledger holds under the Xero ids a webhook names, and Xero's new state of a record,
stored in the ledger (so the writer's status rules see it) and on the record (so
people see it), together."""

from __future__ import annotations

from ..common.database import Database
from ..common.record_status import record_changes, xero_state
from ..common.written import Held, held_by_xero_ids, set_xero_status
from ..integrations.xero.client import XeroOrg
from .decide import StateChange


class StateStore:
    def __init__(self, db: Database):
        self.db = db

    def organisation(self, tenant_id: str) -> XeroOrg | None:
        """The connected organisation this tenant is, or None (not ours, or disabled)."""
        with self.db.connection() as conn:
            row = conn.execute(
                "select id, tenant_id from organisations where lower(tenant_id) = lower(%s) and status <> 'disabled'",
                (tenant_id,),
            ).fetchone()
        return XeroOrg(row["id"], row["tenant_id"]) if row else None

    def held(self, organisation_id: str, xero_ids: list[str]) -> dict[str, Held]:
        with self.db.connection() as conn:
            return held_by_xero_ids(conn, organisation_id, xero_ids)

    def record(self, changes: list[StateChange]) -> None:
        with self.db.unit_of_work() as conn:
            for change in changes:
                set_xero_status(conn, change.held, change.status)
            record_changes(
                conn,
                [
                    xero_state(
                        c.held.record_type,
                        c.held.cw_id,
                        c.status,
                        organisation_id=c.held.organisation_id,
                        xero_id=c.held.xero_id,
                        disagreement=c.disagreement,
                    )
                    for c in changes
                ],
            )
