"""Which exceptions to email, and when. Pure: no clock, no database.

An event either raises an exception (a sync exception), settles one (the record
was written after all), or is of no interest. A write that failed for good is
not an exception of its own: the writer raises, beside its FAILED result, an
exception that names the cause (`xero_credential`, `xero_unavailable`, ...), and
counting the result too would report every failure twice. Open exceptions not
yet emailed go out at once, one email per kind at each check, or in the daily
digest, per the record type's `alert_mode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

IMMEDIATE, DIGEST = "immediate", "digest"
SETTLED_OUTCOMES = frozenset({"CREATED", "UPDATED", "VOIDED", "DELETED", "UNCHANGED"})


@dataclass(frozen=True)
class NewException:
    event_id: str  # the event that raised it; seen twice, counted once
    kind: str
    record_type: str
    record_id: str
    organisation_id: str
    customer: str | None
    message: str
    details: dict
    audit_entry_id: str
    raised_at: datetime


@dataclass(frozen=True)
class Settled:
    """The record was written after all: its open exceptions are resolved."""

    record_type: str
    record_id: str


def _aware(value, fallback: datetime) -> datetime:
    return value if isinstance(value, datetime) else fallback


def interpret(schema: str, record: dict, entry_id: str, now: datetime) -> NewException | Settled | None:
    """What one event means to alerting. `entry_id` is the event's own audit entry."""
    if schema == "sync_exception":
        return NewException(
            event_id=f"sync_exception:{record['exception_id']}",
            kind=record["kind"],
            record_type=record["record_type"],
            record_id=str(record["record_id"]),
            organisation_id=record.get("organisation_id") or "",
            customer=record.get("customer"),
            message=record["message"],
            details=dict(record.get("details") or {}),
            # an exception that points at the exchange that failed links there; else to itself
            audit_entry_id=record.get("audit_entry_id") or entry_id,
            raised_at=_aware(record.get("raised_at"), now),
        )
    if schema == "xero_write_result" and str(record["outcome"]) in SETTLED_OUTCOMES:
        return Settled(record["record_type"], str(record["cw_id"]))
    return None


@dataclass(frozen=True)
class Pending:
    """An open exception no email has named yet."""

    id: int
    kind: str
    record_type: str
    first_seen: datetime


@dataclass
class Plan:
    immediate: dict[str, list[int]] = field(default_factory=dict)  # kind -> ids: one email per kind
    digest: list[int] = field(default_factory=list)  # one email for all
    digest_day: date | None = None  # set when today's digest runs now


def mode_of(record_type: str, modes: dict[str, str]) -> str:
    return DIGEST if modes.get(record_type) == DIGEST else IMMEDIATE  # unknown types never wait a day


def digest_due(now: datetime, hour_utc: int, last_sent: date | None) -> bool:
    """Due from the configured hour until it has gone out that day; a service
    that was down at the hour sends it when it is back, once."""
    return now.hour >= hour_utc and (last_sent is None or last_sent < now.date())


def plan(
    pending: list[Pending],
    modes: dict[str, str],
    now: datetime,
    hour_utc: int,
    last_digest: date | None,
    force_digest: bool = False,
) -> Plan:
    result = Plan()
    waiting = []
    for item in sorted(pending, key=lambda p: (p.first_seen, p.id)):
        if mode_of(item.record_type, modes) == IMMEDIATE:
            result.immediate.setdefault(item.kind, []).append(item.id)
        else:
            waiting.append(item.id)
    if force_digest or digest_due(now, hour_utc, last_digest):
        result.digest = waiting
        # A forced (test or operator) digest does not count as the day's: the scheduled one still runs.
        result.digest_day = None if force_digest else now.date()
    return result
