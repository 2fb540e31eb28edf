"""Write requests, coalesced and cut into Xero batches: pure logic.

A consumed batch may hold several requests for the same record (an edit right
after a create, a force-sync behind a scheduled sync); only the newest says
what Xero should hold, so the older ones are dropped before any call. What is
left is grouped per organisation and endpoint and cut into batches of at most
50 elements, Xero's recommended ceiling for one request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Hashable, Iterable, Sequence, TypeVar

from ..common.record_kinds import CREDIT_NOTES, INVOICES, PAYMENTS, RecordKind

MAX_BATCH = 50  # elements a Xero write call carries
# Requests a lane hands the writer at once. Their writes still go MAX_BATCH a call; what the
# larger take buys is adoption's look-ups: one filtered read covers the numbers of several
# batches (as many as fit its query), so a backfill makes about 0.02 reads a record, not one a batch.
LANE_TAKE = 5 * MAX_BATCH
# What the writer writes: documents, and money (payments, and credit note allocations).
ENDPOINTS = {doc.endpoint: doc.id_field for doc in (INVOICES, CREDIT_NOTES, PAYMENTS)} | {"Allocations": "AllocationID"}
OPERATIONS = ("UPSERT", "VOID", "DELETE")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class BadWriteRequest(ValueError):
    """A write request that cannot be acted on; the message names the field."""


@dataclass(frozen=True)
class WriteRequest:
    request_id: str
    organisation_id: str
    record_type: str
    cw_id: int
    content_hash: str
    operation: str
    endpoint: str
    body: dict
    natural_key: str
    trigger: str = "SCHEDULE"
    mapped_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    seq: int = 0  # arrival order, the tie-breaker when mapped_at is equal
    observed_at: datetime | None = None  # when ingest read the content (orders status changes)
    total: Decimal | None = None  # what ConnectWise says the document totals
    contact_details: str | None = None  # the contact's billing details to keep in step (JSON), if any

    @property
    def record_key(self) -> tuple[str, str, int]:
        return (self.organisation_id, self.record_type, self.cw_id)

    @property
    def id_field(self) -> str:
        return ENDPOINTS[self.endpoint]

    @property
    def kind(self) -> RecordKind:
        return RecordKind.parse(self.record_type)

    @classmethod
    def from_record(cls, record: dict, seq: int = 0) -> "WriteRequest":
        """From a decoded xero_write_request; raises BadWriteRequest naming the bad field."""
        for name in ("request_id", "organisation_id", "record_type", "content_hash", "natural_key"):
            if not str(record.get(name) or "").strip():
                raise BadWriteRequest(f"{name}: must not be empty")
        if record.get("endpoint") not in ENDPOINTS:
            raise BadWriteRequest(f"endpoint: must be one of {sorted(ENDPOINTS)}, got {record.get('endpoint')!r}")
        if record.get("operation") not in OPERATIONS:
            raise BadWriteRequest(f"operation: must be one of {OPERATIONS}, got {record.get('operation')!r}")
        try:
            body = json.loads(record.get("body") or "")
        except json.JSONDecodeError as exc:
            raise BadWriteRequest(f"body: not JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(body, dict):
            raise BadWriteRequest(f"body: must be a JSON object, got {type(body).__name__}")
        mapped_at = record.get("mapped_at") or datetime.now(timezone.utc)
        if isinstance(mapped_at, (int, float)):
            mapped_at = datetime.fromtimestamp(mapped_at / 1000, timezone.utc)
        return cls(
            request_id=record["request_id"],
            organisation_id=record["organisation_id"],
            record_type=record["record_type"],
            cw_id=int(record["cw_id"]),
            content_hash=record["content_hash"],
            operation=record["operation"],
            endpoint=record["endpoint"],
            body=body,
            natural_key=record["natural_key"],
            trigger=record.get("trigger") or "SCHEDULE",
            mapped_at=mapped_at,
            seq=seq,
            observed_at=record.get("observed_at"),
            total=record.get("total"),
            contact_details=record.get("contact_details"),
        )


def idempotency_key(request_ids: list[str], method: str, endpoint: str) -> str:
    """The same requests in the same call always get the same key (Xero allows 128 characters)."""
    digest = hashlib.sha256("\n".join([method, endpoint, *request_ids]).encode()).hexdigest()
    return f"cz-{digest}"


def coalesce(requests: Iterable[WriteRequest]) -> tuple[list[WriteRequest], list[tuple[WriteRequest, WriteRequest]]]:
    """Keeps the newest request per record (by mapped_at, then arrival).
    Returns (kept in arrival order, [(superseded, the request that replaced it)])."""
    newest: dict[tuple, WriteRequest] = {}
    everything = list(requests)
    for req in everything:
        held = newest.get(req.record_key)
        if held is None or (req.mapped_at, req.seq) >= (held.mapped_at, held.seq):
            newest[req.record_key] = req
    kept = sorted(newest.values(), key=lambda r: r.seq)
    kept_ids = {id(r) for r in kept}
    superseded = [(r, newest[r.record_key]) for r in everything if id(r) not in kept_ids]
    return kept, superseded


def by_organisation(requests: Iterable[WriteRequest]) -> dict[str, list[WriteRequest]]:
    groups: dict[str, list[WriteRequest]] = {}
    for req in requests:
        groups.setdefault(req.organisation_id, []).append(req)
    return groups


def chunks(items: Sequence[T], size: int = MAX_BATCH) -> list[list[T]]:
    if size < 1:
        raise ValueError(f"size: must be at least 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def batches(items: Iterable[T], key: Callable[[T], K], size: int = MAX_BATCH) -> list[tuple[K, list[T]]]:
    """Groups items by `key(item)` (e.g. endpoint and method), keeping first-seen order,
    and cuts each group into batches of at most `size`."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return [(k, chunk) for k, group in groups.items() for chunk in chunks(group, size)]
