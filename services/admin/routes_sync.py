"""Sync control and record status: run a cycle, force-sync a record, replay a
window (each a command on `sync.commands.v1` for ingest), and list records
with their sync status from `sync_records`."""

import threading
from datetime import date, datetime, time, timezone
from typing import Annotated, Any

from confluent_kafka import Producer
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..common.codec import Codec
from ..common.commands import Command, as_event, new_command
from ..common.database import Database
from ..common.http_app import BIGINT_MAX, Principal, Responses, UserAuth, error, api_router
from ..common.kafka import make_producer
from ..common.settings import Settings
from ..common.lifecycle import Status
from ..common.record_kinds import RECORD_TYPES, RecordKind
from ..common.topics import SYNC_COMMANDS
from .records_query import RecordPage, SyncState, list_records, sync_states


def check_record_type(record_type: str, where: str = "path") -> str:
    if record_type not in RECORD_TYPES:
        raise HTTPException(
            422,
            detail=[
                {
                    "loc": [where, "record_type"],
                    "type": "value_error",
                    "msg": f"record_type: {record_type!r} is not one of {', '.join(RECORD_TYPES)}",
                }
            ],
        )
    return record_type


def _as_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class ReplayRequest(BaseModel):
    """A window of ConnectWise `lastUpdated` times; a bare date means its midnight UTC."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"record_type": "invoice", "from": "2026-11-01", "to": "2026-11-02T12:00:00Z"}]}
    )
    record_type: RecordKind
    from_: datetime = Field(alias="from", description="Start of the window (ISO-8601; UTC when no offset).")
    to: datetime = Field(description="End of the window, inclusive.")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            try:
                return _as_utc(date.fromisoformat(value))
            except ValueError:
                pass
        return value

    @field_validator("from_", "to", mode="after")
    @classmethod
    def _in_utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        try:
            return _as_utc(value)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
            name = "from" if info.field_name == "from_" else info.field_name
            raise ValueError(f"{name}: {value.isoformat()} is before year 1 or after 9999 in UTC") from None

    @model_validator(mode="after")
    def _ordered(self) -> "ReplayRequest":
        if self.from_ > self.to:
            raise ValueError(f"from: {self.from_.isoformat()} is after to {self.to.isoformat()}")
        return self


class CommandSender:
    """Produces sync commands; the producer is made on first use so the app
    starts (and /docs serves) without a broker."""

    def __init__(self, bootstrap: str, codec: Codec, timeout: float = 10.0):
        self.bootstrap, self.codec, self.timeout = bootstrap, codec, timeout
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def send(
        self,
        action: str,
        record_type: str,
        record_id: str | None = None,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
        requested_by: str = "admin",
    ) -> Command:
        command = new_command(action, record_type, record_id, window_from, window_to)
        value = self.codec.encode(SYNC_COMMANDS.schema, as_event(command, requested_by))
        errors: list = []
        with self._lock:
            if self._producer is None:
                self._producer = make_producer(self.bootstrap)
            self._producer.produce(
                SYNC_COMMANDS.name,
                key=record_type.encode(),
                value=value,
                on_delivery=lambda err, _msg: errors.append(err) if err else None,
            )
            remaining = self._producer.flush(self.timeout)
        if remaining or errors:
            raise HTTPException(
                503,
                detail=f"the command could not be queued on {SYNC_COMMANDS.name}: "
                f"{errors[0] if errors else 'broker did not acknowledge in time'}",
            )
        return command


# Checked by the route (422 naming the value and the choices), listed in the document.
RecordType = Annotated[
    str, Path(description=f"One of {', '.join(RECORD_TYPES)}", json_schema_extra={"enum": list(RECORD_TYPES)})
]
NOT_QUEUED: Responses = {503: error(f"The broker did not take the command on {SYNC_COMMANDS.name}; try again shortly")}


def sync_router(
    settings: Settings,
    db: Database,
    codec: Codec | None = None,
    sender: CommandSender | None = None,
    auth: UserAuth | None = None,
) -> APIRouter:
    from .users import user_auth

    auth = auth or user_auth(settings, db)
    router = api_router(auth, "sync")
    sender = sender or CommandSender(settings.kafka_bootstrap, codec or Codec.from_directory())
    Operator = Annotated[Principal, Depends(auth.operator)]

    @router.get(
        "/sync",
        response_model=list[SyncState],
        summary="Each record type's cadence, cursor, last cycle, progress and records by status",
    )
    def sync_status() -> list[SyncState]:
        with db.connection() as conn:
            return sync_states(conn)

    @router.post(
        "/sync/{record_type}/run",
        status_code=202,
        response_model=Command,
        responses=NOT_QUEUED,
        summary="Run a cycle for the record type now",
    )
    def run_cycle(record_type: RecordType, who: Operator) -> Command:
        return sender.send("RUN_CYCLE", check_record_type(record_type), requested_by=who.name)

    @router.post(
        "/records/{record_type}/{record_id}/force-sync",
        status_code=202,
        response_model=Command,
        responses=NOT_QUEUED,
        summary="Push one record through now, whatever its hash and the schedule",
    )
    def force_sync(
        record_type: RecordType,
        record_id: Annotated[
            str, Path(min_length=1, max_length=64, description="ConnectWise id, or Xero PaymentID for xero_payment")
        ],
        who: Operator,
    ) -> Command:
        check_record_type(record_type)
        if RecordKind(record_type).from_connectwise and not record_id.isdigit():
            raise HTTPException(
                422,
                detail=[
                    {
                        "loc": ["path", "record_id"],
                        "type": "value_error",
                        "msg": f"record_id: a ConnectWise id is a number, not {record_id!r}",
                    }
                ],
            )
        return sender.send("FORCE_SYNC", record_type, record_id, requested_by=who.name)

    @router.post(
        "/replay",
        status_code=202,
        response_model=Command,
        responses=NOT_QUEUED,
        summary="Re-emit every record of a type last updated in [from, to]",
    )
    def replay(body: ReplayRequest, who: Operator) -> Command:
        return sender.send("REPLAY", body.record_type, window_from=body.from_, window_to=body.to, requested_by=who.name)

    @router.get(
        "/records", response_model=RecordPage, summary="Records with their sync status, Xero id and organisation"
    )
    def records(
        record_type: Annotated[
            str | None,
            Query(description=f"One of {', '.join(RECORD_TYPES)}", json_schema_extra={"enum": list(RECORD_TYPES)}),
        ] = None,
        status: Annotated[Status | None, Query(description="Sync status")] = None,
        organisation: Annotated[str | None, Query(description="Organisation id")] = None,
        q: Annotated[str | None, Query(description="ConnectWise id, number, customer or Xero id")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    ) -> RecordPage:
        if record_type is not None:
            check_record_type(record_type, "query")
        with db.connection() as conn:
            return list_records(conn, record_type, status, organisation or None, q, limit, offset)

    return router
