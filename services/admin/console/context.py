"""What every console page module is given: the settings, the Postgres pool, the
renderer and the gate, and the admin service's own senders and clients (shared
with the API routes, one of each per process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fastapi import HTTPException

from ...common.commands import Command
from ...common.database import Database
from ...common.exchanges import ExchangeRecorder
from ...common.secrets import SecretBox
from ...common.settings import Settings
from ...mapping.changes import ChangePublisher
from ..audit_client import AuditClient
from ..routes_audit_settings import AuditSettings
from ..routes_sync import CommandSender
from .gate import Gate
from .rendering import Renderer


class ActionFailed(Exception):
    """An action the console could not carry out; the message is for the person who asked."""


@dataclass
class Console:
    settings: Settings
    db: Database
    render: Renderer
    gate: Gate
    sender: CommandSender
    publisher: ChangePublisher
    box: SecretBox
    audit: AuditClient
    exchange_recorder: Callable[[], ExchangeRecorder | None]  # for Xero calls the console makes
    audit_settings: AuditSettings  # the audit log's retention, through the audit service

    def send(
        self, action: str, record_type: str, record_id: str | None = None, requested_by: str = "console", **window
    ) -> Command:
        """A sync command on sync.commands.v1, as the API sends it."""
        try:
            return self.sender.send(action, record_type, record_id, requested_by=requested_by, **window)
        except HTTPException as exc:  # the broker did not take it
            raise ActionFailed(str(exc.detail)) from None

    def config_changed(self) -> None:
        """After a configuration change commits: publish its history row (the audit log shows it)."""
        self.publisher.kick(self.settings.postgres_url)
