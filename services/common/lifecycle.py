"""A record's sync status, and the one rule for which event may move it where.

Every service that learns something about a record reports it as an `Event`
about one *observation* of the record: the moment ingest read that content from
its source (`observed_at`, carried on every event derived from it). The rule:

1. An event about an older observation than the one the status describes is
   stale: it never moves the status (a late or replayed event cannot undo a
   newer one). Facts it carries about the other system (a Xero id) still count.
2. An event about a newer observation always sets the status, whichever stage it
   is: the mapper may decide on new content before ingest has recorded emitting
   it, since both run as soon as the broker has the event.
3. For the same observation, the pipeline only moves forward: OBSERVED (stage 0)
   < MAPPED or HELD (stage 1) < an outcome (stage 2). A lower stage never moves
   a status back (ingest recording its emission after the writer's outcome
   leaves the outcome), equal stages replace each other (the newest outcome of a
   retried write is the one that counts).

An event with no observation time (a write recovered after a crash, an operator
action) is taken as about the current observation.

A fact about the other system (Xero's state of a record we wrote, reported by a
webhook) is not a step of the pipeline: `XERO_STATE` never moves the status.
When the fact is that someone voided or deleted in Xero what we wrote, the books
disagree and the reporter raises instead (`RAISED`), so a person decides.

Pure: `next_status` decides; `services/common/record_status.py` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import overload


class Status(StrEnum):
    PENDING = "pending"  # read from the source, not decided yet
    MAPPED = "mapped"  # a write request is on its way to the writer
    WAITING = "waiting"  # money held until the document it applies to is on the other side
    SYNCED = "synced"  # the other system holds this content (written, applied, removed)
    EXCEPTION = "exception"  # a person must act; the exception says what
    FAILED = "failed"  # could not be done now (credential, outage); tried again
    SKIPPED = "skipped"  # nothing to do (removed before it was ever written, our own echo)
    BEFORE_GO_LIVE = "before_go_live"  # dated before its organisation's go-live date: never written
    SHADOW = "shadow"  # decided in a shadow run: nothing written until its organisation goes live


class Event(StrEnum):
    OBSERVED = "observed"  # ingest emitted new content
    UNREADABLE = "unreadable"  # ingest could not convert what it read
    MAPPED = "mapped"  # the mapper sent a write request
    HELD = "held"  # the mapper or writer holds it until what it applies to exists
    RAISED = "raised"  # mapping, matching or writing raised an exception
    WRITTEN = "written"  # the other system accepted the change (or already held it)
    REJECTED = "rejected"  # the other system refused it, or a status rule forbids it
    FAILED = "failed"  # could not be written now
    SKIPPED = "skipped"  # nothing to do
    BEFORE_GO_LIVE = "before_go_live"  # the mapper found it dated before its organisation's go-live date
    SHADOWED = "shadowed"  # the writer decided it for an organisation in shadow and wrote nothing
    XERO_STATE = "xero_state"  # Xero reports a new state of the record (a fact; the status stays)


@dataclass(frozen=True)
class Rule:
    status: Status
    stage: int


RULES: dict[Event, Rule] = {
    Event.OBSERVED: Rule(Status.PENDING, 0),
    Event.MAPPED: Rule(Status.MAPPED, 1),
    Event.HELD: Rule(Status.WAITING, 1),
    Event.UNREADABLE: Rule(Status.FAILED, 2),
    Event.RAISED: Rule(Status.EXCEPTION, 2),
    Event.WRITTEN: Rule(Status.SYNCED, 2),
    Event.REJECTED: Rule(Status.EXCEPTION, 2),
    Event.FAILED: Rule(Status.FAILED, 2),
    Event.SKIPPED: Rule(Status.SKIPPED, 2),
    Event.BEFORE_GO_LIVE: Rule(Status.BEFORE_GO_LIVE, 2),
    Event.SHADOWED: Rule(Status.SHADOW, 2),
}
FACTS = frozenset({Event.XERO_STATE})  # events that carry facts and never move the status
STAGE_OF_STATUS: dict[Status, int] = {rule.status: rule.stage for rule in RULES.values()}
STAGE_OF_STATUS[Status.FAILED] = 2


@dataclass(frozen=True)
class State:
    status: Status
    observed_at: datetime | None  # the observation the status is about


@overload
def millis(moment: None) -> None: ...
@overload
def millis(moment: datetime | int) -> datetime: ...
def millis(moment: datetime | int | None) -> datetime | None:
    """Observation times travel in Avro as milliseconds: compare them at that precision
    (an int is Avro's own form, milliseconds since the epoch)."""
    if moment is None:
        return None
    if isinstance(moment, int):
        return datetime.fromtimestamp(moment / 1000, timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def next_state(current: State | None, event: Event, observed_at: datetime | None) -> State | None:
    """The state after `event`, or None when the status stays as it is."""
    if event in FACTS:
        return None
    rule = RULES[event]
    observed_at = millis(observed_at)
    if current is None:
        return State(rule.status, observed_at)
    held = millis(current.observed_at)
    if observed_at is not None and held is not None:
        if observed_at < held:
            return None  # stale: about content older than the status describes
        if observed_at > held:
            return State(rule.status, observed_at)
    if rule.stage < STAGE_OF_STATUS[current.status]:
        return None  # the same observation never moves back
    return State(rule.status, held if observed_at is None else observed_at)


def next_status(current: State | None, event: Event, observed_at: datetime | None) -> Status | None:
    state = next_state(current, event, observed_at)
    return None if state is None else state.status
