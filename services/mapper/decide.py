"""What the mapper emits for one ConnectWise record: a write request for the
organisation the record routes to, or sync exceptions naming exactly what is
missing. Pure: configuration comes in as a `Snapshot`, time as an argument.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from ..common.topics import SYNC_EXCEPTIONS, XERO_WRITES
from ..mapping.model import Snapshot
from ..mapping.routing import RoutingError
from ..mapping.translate import (
    MappingProblem,
    XeroDocument,
    deletion,
    record_kind,
    record_label,
    translate,
)
from .customer_details import contact_details
from .go_live import before_go_live

_NS = uuid.UUID("0b7d5a0e-5f8c-4a55-8f0e-3c1b2a9d4e61")


@dataclass
class Decision:
    writes: list[tuple[str, bytes, dict]] = field(default_factory=list)  # (topic, key, xero_write_request)
    exceptions: list[tuple[str, bytes, dict]] = field(default_factory=list)  # (topic, key, sync_exception)
    organisation_id: str | None = None
    reason: str = ""
    skip: str | None = None  # nothing to write, and why
    before_go_live: str | None = None  # dated before its organisation's go-live date: never written, and why


def _customer(record: dict) -> str | None:
    return record.get("company_identifier") or record.get("vendor_company_identifier")


def exception_event(
    record: dict, kind: str, message: str, org_id: str | None, details: dict, now: datetime
) -> tuple[str, bytes, dict]:
    record_type = record["record_type"]
    # Same record content + same problem -> same id, so a redelivered record does not raise twice.
    ident = uuid.uuid5(
        _NS,
        "|".join(
            [
                record_type,
                str(record["cw_id"]),
                record["content_hash"],
                kind,
                details.get("field", ""),
                details.get("value", ""),
                org_id or "",
            ]
        ),
    )
    event = {
        "exception_id": str(ident),
        "kind": kind,
        "record_type": record_type,
        "record_id": str(record["cw_id"]),
        "organisation_id": org_id,
        "customer": _customer(record),
        "message": message,
        "details": {k: str(v) for k, v in details.items()},
        "audit_entry_id": None,
        "raised_at": now,
    }
    return SYNC_EXCEPTIONS.name, f"{record_type}:{record['cw_id']}".encode(), event


def write_event(
    record: dict,
    org_id: str,
    operation: str,
    endpoint: str,
    body: dict,
    natural_key: str,
    now: datetime,
    total=None,
    contact_details: str | None = None,
):
    request_id = uuid.uuid5(
        _NS,
        "|".join(
            [
                org_id,
                record["record_type"],
                str(record["cw_id"]),
                record["content_hash"],
                str(record.get("observed_at")),
                operation,
            ]
        ),
    )
    event = {
        "request_id": str(request_id),
        "organisation_id": org_id,
        "record_type": record["record_type"],
        "cw_id": record["cw_id"],
        "content_hash": record["content_hash"],
        "operation": operation,
        "endpoint": endpoint,
        "body": json.dumps(body, sort_keys=True),
        "natural_key": natural_key,
        "trigger": record.get("trigger", "SCHEDULE"),
        "mapped_at": now,
        "observed_at": record.get("observed_at"),
        "total": total,
        "contact_details": contact_details,
    }
    return XERO_WRITES.name, org_id.encode(), event


def is_void(record: dict) -> bool:
    """A ConnectWise invoice or credit memo in status Void: in Xero it is voided (or deleted while a draft)."""
    return "invoice_number" in record and str(record.get("status") or "").strip().lower() in ("void", "voided")


def decide(record: dict, snapshot: Snapshot, now: datetime, written_to: list[str] | None = None) -> Decision:
    """`written_to`: the organisations the writer's ledger says hold this record.
    A deletion goes there, whatever the rules say now. An update the rules now
    send elsewhere is an exception (moving it would leave a copy behind); the
    rules alone decide for a record never written."""
    label = record_label(record)
    voided = is_void(record)
    if (record.get("change") == "DELETED" or voided) and written_to:
        endpoint, body, key = deletion(record)
        operation = "DELETE" if record.get("change") == "DELETED" else "VOID"
        decision = Decision(organisation_id=written_to[0], reason="where the record was written")
        decision.writes = [write_event(record, org_id, operation, endpoint, body, key, now) for org_id in written_to]
        return decision
    if voided:
        return Decision(skip=f"{label} was voided in ConnectWise before it was written to Xero")
    try:
        chosen = snapshot.router.route(record, label)
    except RoutingError as exc:
        return Decision(exceptions=[exception_event(record, "no_route", str(exc), None, exc.facts, now)])
    org = snapshot.orgs.get(chosen.organisation_id)
    decision = Decision(organisation_id=chosen.organisation_id, reason=chosen.reason)
    if org is None or org.status == "disabled":
        state = "does not exist" if org is None else "is disabled"
        decision.exceptions.append(
            exception_event(
                record,
                "no_route",
                f"{label} routes to organisation {chosen.organisation_id} by {chosen.reason}, which {state}",
                chosen.organisation_id,
                {"rule": chosen.reason},
                now,
            )
        )
        return decision
    if record.get("change") == "DELETED":
        endpoint, body, key = deletion(record)
        decision.writes.append(write_event(record, org.organisation_id, "DELETE", endpoint, body, key, now))
        return decision
    held_back = before_go_live(record, org)
    if held_back:
        decision.before_go_live = held_back
        return decision
    if written_to and org.organisation_id not in written_to:
        # Writing it to the new organisation would leave the old copy behind: a person decides.
        held = ", ".join(written_to)
        decision.organisation_id = written_to[0]
        decision.exceptions.append(
            exception_event(
                record,
                "route_changed",
                f"{label} is in Xero organisation {held} but now routes to {org.organisation_id} by {chosen.reason}; "
                f"void or delete it in {held}, then force-sync it",
                written_to[0],
                {"written_to": held, "routes_to": org.organisation_id, "rule": chosen.reason},
                now,
            )
        )
        return decision
    status = snapshot.create_status.get(record_kind(record), "DRAFT")
    result = translate(record, org, status)
    if isinstance(result, XeroDocument):
        decision.writes.append(
            write_event(
                record,
                org.organisation_id,
                "UPSERT",
                result.endpoint,
                result.element,
                result.natural_key,
                now,
                result.total,
                contact_details(record, org, result.element["Contact"]),
            )
        )
        return decision
    for problem in result:
        decision.exceptions.append(_problem(record, label, org.organisation_id, chosen.reason, problem, now))
    return decision


def _problem(record: dict, label: str, org_id: str, reason: str, problem: MappingProblem, now: datetime):
    message = f"{label} for organisation {org_id}: {problem.message}"
    details = {"field": problem.field, "value": problem.value, "route": reason}
    return exception_event(record, problem.kind, message, org_id, details, now)
