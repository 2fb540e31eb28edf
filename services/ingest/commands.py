"""Operator commands from `sync.commands.v1`: run a cycle now, force-sync one
record, replay a window. The consumer only translates messages into calls."""

from __future__ import annotations

import logging

from ..common.codec import Codec
from ..integrations.connectwise.client import CwApiError
from ..common.kafka import message_context
from ..common.metrics import MESSAGES, POISON
from ..common.record_kinds import RecordKind
from .cycle import Pipeline, force_sync, replay
from ..common.commands import Command, parse_command
from .sources import POLLED_TYPES

log = logging.getLogger(__name__)


class CommandHandler:
    """`handle` is a consume_batches handler: returns the poison messages with their error."""

    def __init__(
        self,
        pipeline: Pipeline,
        codec: Codec,
        wake_scheduler=lambda: None,
        record_types: tuple[str, ...] = POLLED_TYPES,
        xero_payments=None,
    ):
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
            assert command.record_id is not None  # parse_command refuses a force-sync without one
            try:
                result = force_sync(self.pipeline, command.record_type, command.record_id)
            except CwApiError as exc:
                if exc.status != 404:
                    raise
                log.warning("force-sync of %s %s: not found in ConnectWise", command.record_type, command.record_id)
                return
            log.info(
                "force-sync of %s %s: %d emitted%s",
                command.record_type,
                command.record_id,
                result.emitted,
                " (deleted in ConnectWise)" if result.deleted else "",
            )
        else:
            assert command.window_from is not None and command.window_to is not None  # parse_command checked them
            result = replay(self.pipeline, command.record_type, command.window_from, command.window_to)
            log.info(
                "replay of %s %s..%s: %d emitted",
                command.record_type,
                command.window_from,
                command.window_to,
                result.emitted,
            )

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
