"""Each organisation's sync settings in Postgres (`organisation_sync_settings`): its go-live
date, live or shadow mode, what to do with a document dated inside a lock date, the
rounding account and whether its contacts follow ConnectWise's billing contacts.

A change is stored with its history entry in the caller's transaction, like every
configuration change, so the mapper applies it from the next record. Starting a shadow
run forgets the report of the previous one. What a change means for records already
decided (going live, a go-live date moved earlier) is `decide_again`: the records to
read from ConnectWise again, so they are decided under the new settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..common.lifecycle import Status
from ..common.record_kinds import DOCUMENT_KINDS
from .history import record_change
from .model import LOCK_DATE_TREATMENTS, MODES

FIELDS = ("go_live_date", "mode", "lock_date_treatment", "rounding_account_code", "customer_details")
DEFAULTS = {
    "go_live_date": None,
    "mode": "live",
    "lock_date_treatment": "exception",
    "rounding_account_code": None,
    "customer_details": False,
    "shadow_since": None,
}


class SettingsError(ValueError):
    """A setting that cannot be stored; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Window:
    """Records of one type to read again: ConnectWise `lastUpdated` in [start, end]."""

    record_type: str
    start: datetime
    end: datetime
    records: int


def get_settings(conn, org_id: str) -> dict:
    row = conn.execute(
        f"select {', '.join(FIELDS)}, shadow_since from organisation_sync_settings where organisation_id = %s",
        (org_id,),
    ).fetchone()
    return {"organisation_id": org_id, **(dict(row) if row else DEFAULTS)}


def _check(conn, org_id: str, values: dict) -> None:
    if values.get("mode") not in (None, *MODES):
        raise SettingsError("mode", f"mode: {values['mode']!r} is not one of {', '.join(MODES)}")
    if values.get("lock_date_treatment") not in (None, *LOCK_DATE_TREATMENTS):
        raise SettingsError(
            "lock_date_treatment",
            f"lock_date_treatment: {values['lock_date_treatment']!r} is not one of {', '.join(LOCK_DATE_TREATMENTS)}",
        )
    code = values.get("rounding_account_code")
    if code:
        row = conn.execute(
            "select status from xero_accounts where organisation_id = %s and code = %s", (org_id, code)
        ).fetchone()
        if row is None or row["status"] != "ACTIVE":
            raise SettingsError(
                "rounding_account_code",
                f"rounding_account_code: {code!r} is not an active account "
                f"in the Xero catalog of {org_id} (refresh the catalog after adding it in Xero)",
            )


def put_settings(conn, org_id: str, values: dict, actor: str) -> tuple[dict, dict]:
    """Changes the settings named in `values` (None clears a date or account); returns (before, after)."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise SettingsError(unknown[0], f"{unknown[0]}: not a sync setting ({', '.join(FIELDS)})")
    _check(conn, org_id, values)
    before = get_settings(conn, org_id)
    after = {**before, **values}
    if after["mode"] == "shadow" and before["mode"] != "shadow":
        # A new shadow run: its report starts empty.
        after["shadow_since"] = datetime.now(UTC)
        conn.execute("delete from shadow_outcomes where organisation_id = %s", (org_id,))
    elif after["mode"] == "live":
        after["shadow_since"] = None
    columns = [*FIELDS, "shadow_since"]
    conn.execute(
        f"insert into organisation_sync_settings (organisation_id, {', '.join(columns)}) values"
        f" (%s, {', '.join('%s' for _ in columns)}) on conflict (organisation_id) do update set "
        + ", ".join(f"{c} = excluded.{c}" for c in columns)
        + ", updated_at = now()",
        [org_id, *(after[c] for c in columns)],
    )
    if before != after:
        record_change(conn, "organisation_sync_settings", org_id, "update", actor, _jsonable(before), _jsonable(after))
    return before, after


def _jsonable(settings: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in settings.items()}


def decide_again(conn, org_id: str, before: dict, after: dict) -> list[Window]:
    """The records a change of settings sends through the pipeline again: going live, every
    record decided in the shadow run; a go-live date moved earlier (or cleared), every record
    that was before it. Documents only: money waiting for them follows once they are written."""
    statuses: list[str] = []
    if before["mode"] == "shadow" and after["mode"] == "live":
        statuses.append(Status.SHADOW.value)
    old, new = before["go_live_date"], after["go_live_date"]
    if old is not None and (new is None or new < old):
        statuses.append(Status.BEFORE_GO_LIVE.value)
    if not statuses:
        return []
    rows = conn.execute(
        "select record_type, min(last_updated) as start, max(last_updated) as last, count(*) as records"
        " from sync_records"
        " where organisation_id = %s and status = any(%s) and record_type = any(%s) and last_updated is not null"
        " group by record_type order by record_type",
        (org_id, statuses, [k.value for k in DOCUMENT_KINDS]),
    ).fetchall()
    # Up to now, not to the newest lastUpdated read: a record touched since (a payment moves it) is in too;
    # past the newest one when ConnectWise's clock runs ahead of ours (lastUpdated is its time, not ours).
    now = datetime.now(UTC)
    return [
        Window(r["record_type"], r["start"], max(now, r["last"] + timedelta(seconds=1)), r["records"]) for r in rows
    ]
