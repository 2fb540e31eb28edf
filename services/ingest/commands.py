"""Operator commands from `sync.commands.v1`: run a cycle now, force-sync one
record, replay a window. The consumer only translates messages into calls."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from ..common.codec import Codec
from ..integrations.connectwise.client import CwApiError
from ..common.kafka import message_context
from ..common.metrics import MESSAGES, POISON
from ..common.record_kinds import RecordKind
from .cycle import Pipeline, force_sync, replay
from .sources import POLLED_TYPES

log = logging.getLogger(__name__)
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
    command = Command(str(record.get("command_id") or ""), action, str(record.get("record_type") or ""),
                      record.get("record_id"), _utc(record.get("window_from")), _utc(record.get("window_to")))
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


class CommandHandler:
    """`handle` is a consume_batches handler: returns the poison messages with their error."""

    def __init__(self, pipeline: Pipeline, codec: Codec, wake_scheduler=lambda: None,
                 record_types: tuple[str, ...] = POLLED_TYPES, xero_payments=None):
        self.pipeline, self.codec, self.wake_scheduler = pipeline, codec, wake_scheduler
        self.record_types = record_types
        self.xero_payments = xero_payments  # the Xero payments poll, when Xero is configured

    def execute(self, command: Command) -> None:
        if command.record_type == RecordKind.XERO_PAYMENT and self.xero_payments is not None:
            self.execute_xero(command)
            return
        if command.record_type not in self.record_types:
            # Commands for types another service handles (xero_payment) share the topic.
            log.info("command %s for %s is not ingest's from ConnectWise; ignored", command.action, command.record_type)
            return
        if command.action == "RUN_CYCLE":
            self.pipeline.store.request_cycle(command.record_type)
            self.wake_scheduler()
        elif command.action == "FORCE_SYNC":
            try:
                result = force_sync(self.pipeline, command.record_type, command.record_id)
            except CwApiError as exc:
                if exc.status != 404:
                    raise
                log.warning("force-sync of %s %s: not found in ConnectWise", command.record_type, command.record_id)
                return
            log.info("force-sync of %s %s: %d emitted%s", command.record_type, command.record_id, result.emitted,
                     " (deleted in ConnectWise)" if result.deleted else "")
        else:
            result = replay(self.pipeline, command.record_type, command.window_from, command.window_to)
            log.info("replay of %s %s..%s: %d emitted", command.record_type, command.window_from,
                     command.window_to, result.emitted)

    def execute_xero(self, command: Command) -> None:
        """`xero_payment` commands: per organisation, by the Xero payments poll."""
        if command.action == "RUN_CYCLE":
            self.xero_payments.request_cycle()
            self.wake_scheduler()
        elif command.action == "FORCE_SYNC":
            try:
                emitted = self.xero_payments.force_sync(command.record_id)
            except LookupError as exc:
                log.warning("force-sync of xero_payment: %s", exc)
                return
            log.info("force-sync of xero_payment %s: %d emitted", command.record_id, emitted)
        else:
            emitted = self.xero_payments.replay(command.window_from, command.window_to)
            log.info("replay of xero_payment %s..%s: %d emitted", command.window_from, command.window_to, emitted)

    def handle(self, messages: list) -> list:
        poison = []
        for msg in messages:
            try:
                _, record = self.codec.decode(msg.value())
                self.execute(parse_command(record))
                MESSAGES.labels(service="ingest", topic=msg.topic()).inc()
            except Exception as exc:  # parked in the dead-letter topic with its error
                log.exception("command failed", extra=message_context(msg))
                POISON.labels(service="ingest", topic=msg.topic()).inc()
                poison.append((msg, exc))
        return poison
