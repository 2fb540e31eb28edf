"""The commands on sync.commands.v1 (run a cycle, force-sync one record, replay a window):
what the admin API sends and ingest and the Xero side carry out, declared once."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

ACTIONS = ("RUN_CYCLE", "FORCE_SYNC", "REPLAY")


class CommandError(ValueError):
    """A command that can never be carried out (poison): names the field and why."""


@dataclass(frozen=True)
class Command:
    command_id: str
    action: str
    record_type: str
    record_id: str | None = None
    window_from: datetime | None = None
    window_to: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_command(record: dict) -> Command:
    """Validates a decoded sync_command."""
    action = record.get("action")
    if action not in ACTIONS:
        raise CommandError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    command = Command(
        str(record.get("command_id") or ""),
        action,
        str(record.get("record_type") or ""),
        record.get("record_id"),
        _utc(record.get("window_from")),
        _utc(record.get("window_to")),
    )
    if not command.record_type:
        raise CommandError("record_type: missing")
    if action == "FORCE_SYNC" and not command.record_id:
        raise CommandError("record_id: FORCE_SYNC needs the record's id")
    if action == "REPLAY":
        if command.window_from is None or command.window_to is None:
            raise CommandError("window_from/window_to: REPLAY needs both")
        if command.window_from > command.window_to:
            raise CommandError("window_from: after window_to")
    return command


def new_command(
    action: str,
    record_type: str,
    record_id: str | None = None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
) -> Command:
    return Command(str(uuid.uuid4()), action, record_type, record_id, window_from, window_to)


def as_event(command: Command, requested_by: str) -> dict:
    """The sync_command event of a command."""
    return {**asdict(command), "requested_by": requested_by, "requested_at": datetime.now(timezone.utc)}
