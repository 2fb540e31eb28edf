"""Conditions of a whole system, decided from facts. Pure: no clock, no database.

An exception says one record could not be synced; a condition says something every
record waits on: an organisation's Xero connection is gone, ConnectWise has failed
cycle after cycle, a refresh token is about to lapse unused. A condition is one
episode: one email when it begins and, for an outage, one when it ends, however many
records or cycles it touched in between (the per-record exceptions of the same kind
are named by that one email, not emailed each).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

XERO_CREDENTIAL = "xero_credential"  # the same kind the writer raises per record: those are covered by it
CONNECTWISE_OUTAGE = "connectwise_outage"
XERO_TOKEN_EXPIRING = "xero_token_expiring"
CONNECTWISE = "connectwise"  # the subject of ConnectWise conditions: one tenant
SENDS_RECOVERY = frozenset({XERO_CREDENTIAL, CONNECTWISE_OUTAGE})  # an expiry warning just stops holding
REFRESH_TOKEN_LIFETIME = timedelta(days=60)  # Xero lets a refresh token lapse after 60 days unused
_REJECTED = re.compile(r"\bHTTP 40[13]\b")  # how the ConnectWise client words a refused key pair


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str  # an organisation id, or "connectwise"
    message: str
    details: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True)
class CycleState:
    """How the cycles of one ConnectWise source have been going (a row of sync_cursors)."""

    record_type: str
    failed_cycles: int  # in a row; 0 after one that succeeded
    failing_since: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class OrganisationState:
    organisation_id: str
    name: str
    status: str  # connected, disconnected or disabled
    has_credential: bool
    credential_updated_at: datetime | None  # when a person last connected (or disconnected) it
    last_credential_failure: datetime | None  # newest open xero_credential exception of its records
    credential_failure: str | None  # what that exception said
    waiting_records: int  # records whose open xero_credential exception waits on it
    last_token_use: datetime | None  # when its refresh token was last spent (or connected, if never)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def connectwise_outage(cycles: list[CycleState], threshold: int, is_open: bool) -> Condition | None:
    """Holds once a source has failed `threshold` cycles in a row, and stays until every
    source's last cycle succeeded: a type that happens to be retried first does not end it."""
    failing = sorted((c for c in cycles if c.failed_cycles > 0), key=lambda c: c.record_type)
    if not any(c.failed_cycles >= threshold for c in failing) and not (is_open and failing):
        return None
    worst = max(failing, key=lambda c: c.failed_cycles)
    since = min((c.failing_since for c in failing if c.failing_since), default=None)
    error = worst.last_error or "no error recorded"
    rejected = bool(_REJECTED.search(error))
    what = "rejects Connect Zero's API keys" if rejected else "is failing"
    types = ", ".join(c.record_type for c in failing)
    message = (
        f"ConnectWise {what}: {worst.failed_cycles} cycles in a row failed ({types}), since "
        f"{_when(since)}. Last error: {error}"
    )
    return Condition(
        CONNECTWISE_OUTAGE,
        CONNECTWISE,
        message,
        {
            "rejected_credentials": rejected,
            "failing_since": since.isoformat() if since else None,
            "failed_cycles": {c.record_type: c.failed_cycles for c in failing},
            "last_error": error,
        },
    )


def credential_lost(org: OrganisationState) -> Condition | None:
    """Xero refused the organisation's credential (it is marked disconnected but still holds one),
    or its records failed for want of one since a person last connected it."""
    if org.status == "disabled":
        return None
    refused = org.status == "disconnected" and org.has_credential
    since_connected = org.last_credential_failure is not None and (
        org.credential_updated_at is None or org.last_credential_failure > org.credential_updated_at
    )
    if not (refused or since_connected):
        return None
    waiting = f"{org.waiting_records} record{'' if org.waiting_records == 1 else 's'}"
    reason = org.credential_failure or "Xero refused its credential"
    message = (
        f"Organisation {org.name} ({org.organisation_id}) cannot write to Xero: {reason}. "
        f"{waiting} wait for it. Reconnect it (Reconnect to Xero on its page in the console); what waited is "
        f"written at the next cycle."
    )
    return Condition(
        XERO_CREDENTIAL, org.organisation_id, message, {"waiting_records": org.waiting_records, "status": org.status}
    )


def token_expiring(org: OrganisationState, now: datetime, warn_days: int) -> Condition | None:
    """A connected organisation whose refresh token has gone unused long enough that it lapses
    within `warn_days`: any call for the organisation (a payment cycle does one) renews it."""
    if org.status != "connected" or not org.has_credential or org.last_token_use is None:
        return None
    lapses = org.last_token_use + REFRESH_TOKEN_LIFETIME
    if now < lapses - timedelta(days=warn_days):
        return None
    days = math.ceil((lapses - now) / timedelta(days=1))  # 4 days and 23 hours are said as 5 days
    when = f"in {days} day{'' if days == 1 else 's'}" if days > 0 else "already"
    message = (
        f"Organisation {org.name} ({org.organisation_id}): its Xero refresh token was last used "
        f"{_when(org.last_token_use)} and lapses unused on {_when(lapses)} ({when}). To renew it, run a payment "
        f"cycle: Run now for Xero payments on the console's Overview; once it has lapsed, reconnect the organisation "
        f"(Reconnect to Xero on its page in the console)."
    )
    return Condition(XERO_TOKEN_EXPIRING, org.organisation_id, message, {"lapses_at": lapses.isoformat()})


def holding(
    cycles: list[CycleState],
    organisations: list[OrganisationState],
    now: datetime,
    failed_cycles_threshold: int,
    token_warn_days: int,
    open_keys: set[tuple[str, str]],
) -> list[Condition]:
    """Every condition that holds now. `open_keys` are the (kind, subject) of open episodes."""
    found = [connectwise_outage(cycles, failed_cycles_threshold, (CONNECTWISE_OUTAGE, CONNECTWISE) in open_keys)]
    for org in organisations:
        found += [credential_lost(org), token_expiring(org, now, token_warn_days)]
    return [c for c in found if c is not None]
