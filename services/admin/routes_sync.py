"""Sync control and record status: run a cycle, force-sync a record, replay a
window (each a command on `sync.commands.v1` for ingest), and list records
with their sync status from `sync_records`."""
from __future__ import annotations

import threading
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field, field_validator, model_validator

from ..common.codec import Codec
from ..common.db import connect
from ..common.kafka import make_producer
from ..common.settings import Settings
from ..common.lifecycle import Status
from ..common.record_kinds import RECORD_TYPES, RecordKind
from ..common.topics import SYNC_COMMANDS



def check_record_type(record_type: str, where: str = "path") -> str:
    if record_type not in RECORD_TYPES:
        raise HTTPException(422, detail=[{"loc": [where, "record_type"], "type": "value_error",
                                          "msg": f"record_type: {record_type!r} is not one of {', '.join(RECORD_TYPES)}"}])
    return record_type


class CommandAccepted(BaseModel):
    command_id: str
    action: str
    record_type: str
    record_id: str | None = None
    window_from: datetime | None = None
    window_to: datetime | None = None


def _as_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class ReplayRequest(BaseModel):
    """A window of ConnectWise `lastUpdated` times; a bare date means its midnight UTC."""
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

    @model_validator(mode="after")
    def _ordered(self) -> "ReplayRequest":
        self.from_, self.to = _as_utc(self.from_), _as_utc(self.to)
        if self.from_ > self.to:
            raise ValueError(f"from: {self.from_.isoformat()} is after to {self.to.isoformat()}")
        return self


class RecordRow(BaseModel):
    record_type: str
    cw_id: str
    number: str | None
    customer: str | None
    status: str
    organisation_id: str | None
    xero_id: str | None
    xero_status: str | None
    total: Decimal | None
    last_updated: datetime | None
    emitted_at: datetime | None
    updated_at: datetime
    last_error: str | None


class RecordPage(BaseModel):
    items: list[RecordRow]
    total: int
    limit: int
    offset: int


class SyncState(BaseModel):
    """Where a record type's polling stands (ConnectWise types; xero_payment is polled per organisation)."""
    record_type: str
    cadence_minutes: int
    cursor_at: datetime | None
    last_cycle_started: datetime | None
    last_cycle_finished: datetime | None
    last_cycle_status: str | None
    next_due_at: datetime | None
    progress_seen: int | None
    progress_total: int | None
    records_by_status: dict[str, int]


def sync_states(postgres_url: str) -> list[SyncState]:
    with connect(postgres_url) as conn:
        rows = conn.execute(
            "select s.record_type, s.cadence_minutes, c.cursor_at, c.last_cycle_started, c.last_cycle_finished,"
            " c.last_cycle_status, c.progress_seen, c.progress_total from record_type_settings s"
            " left join sync_cursors c on c.source = 'cw:' || s.record_type order by s.record_type").fetchall()
        counts: dict[str, dict[str, int]] = {}
        for r in conn.execute("select record_type, status, count(*) as n from sync_records group by 1, 2"):
            counts.setdefault(r["record_type"], {})[r["status"]] = r["n"]
    states = []
    for r in rows:
        started, status = r["last_cycle_started"], r["last_cycle_status"]
        due = None if started is None or status in ("requested", "running") else started + timedelta(minutes=r["cadence_minutes"])
        states.append(SyncState(**r, next_due_at=due, records_by_status=counts.get(r["record_type"], {})))
    return states


class CommandSender:
    """Produces sync commands; the producer is made on first use so the app
    starts (and /docs serves) without a broker."""

    def __init__(self, bootstrap: str, codec: Codec, timeout: float = 10.0):
        self.bootstrap, self.codec, self.timeout = bootstrap, codec, timeout
        self._producer = None
        self._lock = threading.Lock()

    def send(self, action: str, record_type: str, record_id: str | None = None,
             window_from: datetime | None = None, window_to: datetime | None = None) -> CommandAccepted:
        command = {"command_id": str(uuid.uuid4()), "action": action, "record_type": record_type,
                   "record_id": record_id, "window_from": window_from, "window_to": window_to,
                   "requested_by": "admin", "requested_at": datetime.now(timezone.utc)}
        value = self.codec.encode(SYNC_COMMANDS.schema, command)
        errors: list = []
        with self._lock:
            if self._producer is None:
                self._producer = make_producer(self.bootstrap)
            self._producer.produce(SYNC_COMMANDS.name, key=record_type.encode(), value=value,
                                   on_delivery=lambda err, _msg: errors.append(err) if err else None)
            remaining = self._producer.flush(self.timeout)
        if remaining or errors:
            raise HTTPException(503, detail=f"the command could not be queued on {SYNC_COMMANDS.name}: "
                                            f"{errors[0] if errors else 'broker did not acknowledge in time'}")
        return CommandAccepted(**{k: command[k] for k in CommandAccepted.model_fields})


def list_records(postgres_url: str, record_type: str | None, status: str | None, organisation: str | None,
                 q: str | None, limit: int, offset: int) -> RecordPage:
    where, args = [], []
    if record_type:
        where.append("record_type = %s")
        args.append(record_type)
    if status:
        where.append("status = %s")
        args.append(status)
    if organisation:
        where.append("organisation_id = %s")
        args.append(organisation)
    if q:
        where.append("(cw_id = %s or record_number ilike %s or customer ilike %s or xero_id = %s)")
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [q, pattern, pattern, q]
    clause = (" where " + " and ".join(where)) if where else ""
    with connect(postgres_url) as conn:
        total = conn.execute(f"select count(*) as n from sync_records{clause}", args).fetchone()["n"]
        rows = conn.execute(
            "select record_type, cw_id, record_number as number, customer, status, organisation_id, xero_id,"
            " xero_status, total, last_updated, emitted_at, updated_at, last_error"
            f" from sync_records{clause} order by updated_at desc, record_type, cw_id limit %s offset %s",
            [*args, limit, offset]).fetchall()
    return RecordPage(items=[RecordRow(**r) for r in rows], total=total, limit=limit, offset=offset)


RecordType = Annotated[str, Path(description=f"One of {', '.join(RECORD_TYPES)}")]


def sync_router(settings: Settings, codec: Codec | None = None) -> APIRouter:
    router = APIRouter(tags=["sync"])
    sender = CommandSender(settings.kafka_bootstrap, codec or Codec.from_directory())

    @router.get("/sync", response_model=list[SyncState],
                summary="Each record type's cadence, cursor, last cycle, progress and records by status")
    def sync_status() -> list[SyncState]:
        return sync_states(settings.postgres_url)

    @router.post("/sync/{record_type}/run", status_code=202, response_model=CommandAccepted,
                 summary="Run a cycle for the record type now")
    def run_cycle(record_type: RecordType) -> CommandAccepted:
        return sender.send("RUN_CYCLE", check_record_type(record_type))

    @router.post("/records/{record_type}/{record_id}/force-sync", status_code=202, response_model=CommandAccepted,
                 summary="Push one record through now, whatever its hash and the schedule")
    def force_sync(record_type: RecordType,
                   record_id: Annotated[str, Path(min_length=1, max_length=64,
                                                  description="ConnectWise id, or Xero PaymentID for xero_payment")]) -> CommandAccepted:
        check_record_type(record_type)
        if RecordKind(record_type).from_connectwise and not record_id.isdigit():
            raise HTTPException(422, detail=[{"loc": ["path", "record_id"], "type": "value_error",
                                              "msg": f"record_id: a ConnectWise id is a number, not {record_id!r}"}])
        return sender.send("FORCE_SYNC", record_type, record_id)

    @router.post("/replay", status_code=202, response_model=CommandAccepted,
                 summary="Re-emit every record of a type last updated in [from, to]")
    def replay(body: ReplayRequest) -> CommandAccepted:
        return sender.send("REPLAY", body.record_type, window_from=body.from_, window_to=body.to)

    @router.get("/records", response_model=RecordPage, summary="Records with their sync status, Xero id and organisation")
    def records(record_type: Annotated[str | None, Query(description=f"One of {', '.join(RECORD_TYPES)}")] = None,
                status: Annotated[Status | None, Query(description="Sync status")] = None,
                organisation: Annotated[str | None, Query(description="Organisation id")] = None,
                q: Annotated[str | None, Query(description="ConnectWise id, number, customer or Xero id")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> RecordPage:
        if record_type is not None:
            check_record_type(record_type, "query")
        return list_records(settings.postgres_url, record_type, status, organisation, q, limit, offset)

    return router
