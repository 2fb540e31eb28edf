"""The shadow report (`shadow_outcomes`): for each record routed to an organisation in a
shadow run, what would happen to it in Xero: create, update, adopt, void, delete, skip,
wait, or which exception. The mapper reports what it decides without a write (an
exception, a skip, a record before go-live, money waiting); the writer what it would
write. One row per record, the newest decision replacing the older one; a new shadow
run starts with an empty report (`mapping/sync_settings.py`). Read by the admin API."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args

Outcome = Literal["create", "update", "adopt", "void", "delete", "skip", "wait", "exception"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


@dataclass(frozen=True)
class ShadowOutcome:
    organisation_id: str
    record_type: str
    cw_id: str
    outcome: str
    detail: str | None = None  # the exception's kind, or why nothing would be written
    message: str | None = None
    record_number: str | None = None
    customer: str | None = None
    total: Decimal | None = None
    xero_id: str | None = None
    observed_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: {self.outcome!r} is not one of {', '.join(OUTCOMES)}")


_COLUMNS = (
    "organisation_id",
    "record_type",
    "cw_id",
    "outcome",
    "detail",
    "message",
    "record_number",
    "customer",
    "total",
    "xero_id",
    "observed_at",
)


def record_outcomes(conn, outcomes: list[ShadowOutcome]) -> None:
    """Stores each record's newest decision (in the caller's transaction). Older news never
    replaces newer: a decision about an older observation of the record is left out."""
    if not outcomes:
        return
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[3:])
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into shadow_outcomes ({', '.join(_COLUMNS)}, decided_at) values"
            f" ({', '.join('%s' for _ in _COLUMNS)}, now()) on conflict (organisation_id, record_type, cw_id)"
            f" do update set {updates}, decided_at = now() where shadow_outcomes.observed_at is null"
            " or excluded.observed_at is null or excluded.observed_at >= shadow_outcomes.observed_at",
            [astuple(o) for o in outcomes],
        )
