"""Real books in the admin API: each organisation's sync settings (go-live date, live or
shadow, lock-date treatment, rounding account, customer details) and the report of its
shadow run, as JSON and CSV.

A change of settings is stored with its history row in one transaction
(`mapping/sync_settings.py`), published on config.changes.v1, and then the records it
concerns are sent through the pipeline again: going live, those decided in the shadow run;
a go-live date moved earlier, those that were before it. Each is a replay of a window of
one record type on sync.commands.v1, as `POST /api/replay` sends it.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..common.database import Database
from ..common.http_app import Principal, UserAuth, error, api_router, csv_download
from ..common.record_kinds import RECORD_TYPES, RecordTypeName
from ..common.settings import Settings
from ..common.shadow_report import OUTCOMES, Outcome
from ..mapping import repository as repo
from ..mapping import sync_settings
from ..mapping.changes import ChangePublisher
from ..mapping.model import LockDateTreatment, Mode
from .routes_config import OrgId
from .routes_sync import CommandSender
from .shadow_report_query import ShadowRow, all_outcomes, as_csv, list_outcomes, outcome_counts


class SyncSettingsIn(BaseModel):
    """The settings to change; those left out stay as they are, null clears a date or the account."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    go_live_date: date | None = Field(
        None, description="Records dated before it are never written (`before_go_live`); null: every record is written."
    )
    mode: Mode | SkipJsonSchema[None] = Field(
        None,
        description="`live` writes to Xero; `shadow` decides everything and writes "
        "nothing, reporting what would happen. Going live sends the shadow "
        "run's records through again.",
    )
    lock_date_treatment: LockDateTreatment | SkipJsonSchema[None] = Field(
        None,
        description="A document dated inside Xero's lock dates: `exception` (period_locked), or "
        "`first_open_day` (dated the first open day, its own date kept in the reference).",
    )
    rounding_account_code: str | None = Field(
        None,
        min_length=1,
        max_length=10,
        pattern=r"^[^\x00-\x1f]+$",
        description=(
            "An active account of the organisation's Xero catalog for a rounding line, when per-line tax cannot make "
            "the document total what ConnectWise says; null: none (such a difference is a total_mismatch exception)."
        ),
    )
    customer_details: bool | SkipJsonSchema[None] = Field(
        None,
        description="The Xero contact's billing email, address and phone follow the ConnectWise company's "
        "billing contact.",
    )

    @field_validator("mode", "lock_date_treatment", "customer_details")
    @classmethod
    def _left_out_not_null(cls, value: object, info: ValidationInfo) -> object:
        # None is only the default (left out, unchanged): these cannot be cleared.
        if value is None:
            raise ValueError(f"{info.field_name} may be left out but not null")
        return value


class SyncSettingsOut(BaseModel):
    organisation_id: str
    go_live_date: date | None
    mode: str
    lock_date_treatment: str
    rounding_account_code: str | None
    customer_details: bool
    shadow_since: datetime | None = Field(description="When the current shadow run began (null when live).")


class Replay(BaseModel):
    """Records sent through the pipeline again after a change: a window of ConnectWise lastUpdated."""

    record_type: str
    from_: datetime = Field(alias="from")
    to: datetime
    records: int = Field(description="Records of the organisation in the window that the change concerns.")
    command_id: str


class SyncSettingsChanged(SyncSettingsOut):
    decided_again: list[Replay] = Field(description="The replays the change queued (empty when it needs none).")


class ShadowReport(BaseModel):
    organisation_id: str
    mode: str
    shadow_since: datetime | None
    counts: dict[str, int] = Field(
        description="Records of the report per outcome (every outcome, whatever the "
        "outcome filter; the record_type filter applies)."
    )
    total: int = Field(description="Rows matching the filters.")
    limit: int
    offset: int
    items: list[ShadowRow]


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _known(conn, org_id: str) -> None:
    try:
        repo.get_organisation(conn, org_id)
    except repo.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def change_sync_settings(
    db: Database,
    publisher: ChangePublisher,
    postgres_url: str,
    sender: CommandSender,
    org_id: str,
    values: dict,
    actor: str,
) -> tuple[dict, list[Replay]]:
    """Stores the change with its history, then queues the replays it needs; returns (settings, replays).
    Raises repo.NotFound, SettingsError (nothing changed), or HTTPException 503 when the replays
    could not be queued (the settings are saved; the message says what to replay)."""
    with db.unit_of_work() as conn:
        repo.get_organisation(conn, org_id)
        before, after = sync_settings.put_settings(conn, org_id, values, actor)
        windows = sync_settings.decide_again(conn, org_id, before, after)
    publisher.kick(postgres_url)
    replays: list[Replay] = []
    for w in windows:
        try:
            command = sender.send("REPLAY", w.record_type, window_from=w.start, window_to=w.end, requested_by=actor)
        except HTTPException as exc:
            left = "; ".join(
                f"{x.record_type} from {x.start.isoformat()} to {x.end.isoformat()}" for x in windows[len(replays) :]
            )
            raise HTTPException(
                503,
                f"the settings are saved, but the records they concern could not be sent "
                f"through again ({exc.detail}): replay {left} (POST /api/replay)",
            ) from None
        replays.append(
            Replay(
                record_type=w.record_type,
                to=w.end,
                records=w.records,
                command_id=command.command_id,
                **{"from": w.start},
            )
        )
    return after, replays


def real_books_router(
    settings: Settings, db: Database, sender: CommandSender, publisher: ChangePublisher, auth: UserAuth
) -> APIRouter:
    router = api_router(auth, "real books", {404: error("No organisation has this id")})
    Admin = Annotated[Principal, Depends(auth.admin)]
    OutcomeParam = Annotated[Outcome | None, Query(description=f"One of {', '.join(OUTCOMES)}")]
    RecordType = Annotated[RecordTypeName | None, Query(description=f"One of {', '.join(RECORD_TYPES)}")]

    @router.get(
        "/organisations/{org_id}/sync-settings",
        response_model=SyncSettingsOut,
        summary="The organisation's go-live date, live or shadow mode, lock-date treatment, rounding account "
        "and customer details",
    )
    def get_sync_settings(org_id: OrgId) -> dict:
        with db.connection() as conn:
            _known(conn, org_id)
            return sync_settings.get_settings(conn, org_id)

    @router.put(
        "/organisations/{org_id}/sync-settings",
        response_model=SyncSettingsChanged,
        responses={
            503: error(
                "The settings are saved but the records they concern could not be queued "
                "for another pass: replay the windows the answer names"
            )
        },
        summary="Change the organisation's sync settings; going live (or an earlier go-live date) sends the "
        "records concerned through again",
    )
    def put_sync_settings(org_id: OrgId, body: SyncSettingsIn, who: Admin) -> dict:
        try:
            after, replays = change_sync_settings(
                db, publisher, settings.postgres_url, sender, org_id, body.model_dump(exclude_unset=True), who.name
            )
        except repo.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except sync_settings.SettingsError as exc:
            raise _unprocessable(exc.field, str(exc)) from None
        return {**after, "decided_again": replays}

    @router.get(
        "/organisations/{org_id}/shadow-report",
        response_model=ShadowReport,
        summary="What the organisation's shadow run would do with each record: create, update, adopt, void, "
        "delete, skip, wait or which exception, with counts per outcome",
    )
    def shadow_report(
        org_id: OrgId,
        outcome: OutcomeParam = None,
        record_type: RecordType = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> ShadowReport:
        with db.connection() as conn:
            _known(conn, org_id)
            current = sync_settings.get_settings(conn, org_id)
            items, total = list_outcomes(conn, org_id, outcome, record_type, limit, offset)
            counts = outcome_counts(conn, org_id, record_type)
        return ShadowReport(
            organisation_id=org_id,
            mode=current["mode"],
            shadow_since=current["shadow_since"],
            counts=counts,
            total=total,
            limit=limit,
            offset=offset,
            items=items,
        )

    @router.get(
        "/organisations/{org_id}/shadow-report.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
        summary="The shadow report as CSV, every row of the filter view",
    )
    def shadow_report_csv(org_id: OrgId, outcome: OutcomeParam = None, record_type: RecordType = None) -> Response:
        with db.connection() as conn:
            _known(conn, org_id)
            body = as_csv(all_outcomes(conn, org_id, outcome, record_type))
        return csv_download(body, f"shadow-report-{org_id}.csv")

    return router
