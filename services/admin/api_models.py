"""What the admin API's configuration, exception and audit routes answer, for its OpenAPI document.

These routes build their answers as plain dicts from the database (and the audit service); the models
here describe them, route by route (`responses={200: {"model": ...}}`), and the generated-request test
(tests/admin/api_fuzz) checks every answer against them. An answer may carry more than a model names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- organisations and their Xero catalog ------------------------------------------------------
class Organisation(_Out):
    id: str
    name: str
    tenant_id: str = Field(description="Xero tenant id.")
    scopes: str
    status: str = Field(description="connected, disconnected or disabled.")
    create_contacts: bool
    payment_account_code: str | None
    credential_updated_at: datetime | None = Field(description="When its Xero credential was last set or rotated.")
    created_at: datetime
    updated_at: datetime
    base_currency: str | None = Field(description="Its Xero base currency, once its catalog is loaded.")
    connected: bool = Field(description="Whether it holds a Xero credential (never shown).")


class XeroAccount(_Out):
    code: str
    name: str
    class_: str = Field(alias="class")
    status: str
    type: str
    payments_enabled: bool


class XeroTaxRate(_Out):
    tax_type: str
    name: str
    rate: str | None = Field(description="Percent, as a decimal string.")
    applies_to: list[str] = Field(description="Account classes the rate may be used with.")
    status: str


class XeroTrackingOption(_Out):
    category: str
    option: str
    status: str


class XeroContact(_Out):
    contact_id: str
    contact_number: str | None
    account_number: str | None
    name: str
    status: str


class Catalog(_Out):
    accounts: list[XeroAccount]
    tax_rates: list[XeroTaxRate]
    tracking: list[XeroTrackingOption]
    contacts: list[XeroContact]


class CatalogCounts(_Out):
    """How many of each the catalog now holds."""

    accounts: int
    tax_rates: int
    tracking: int
    contacts: int


class Rollup(_Out):
    organisation_id: str
    records_synced: dict[str, int] = Field(description="Records synced, by record type.")
    amounts: dict[str, str] = Field(description="Their total, by record type (decimal strings).")
    total_amount: str
    open_exceptions: int
    last_cycle_at: str | None
    api_calls_today: int
    api_daily_limit: int
    api_budget_used: str = Field(description="Share of today's Xero call limit used, e.g. `12.5%`.")


# ---- routing ---------------------------------------------------------------------------------
class RoutingRule(_Out):
    id: int
    kind: str
    caption: str
    value: str
    organisation_id: str
    priority: int


class RoutePreview(_Out):
    organisation_id: str | None = Field(description="Where a record with these facts would go; null: nowhere.")
    rule_id: int | None
    reason: str


# ---- CSV import, settings, history -----------------------------------------------------------
class ImportRowError(_Out):
    line: int
    table: str
    reason: str


class ImportResult(_Out):
    dry_run: bool
    rows: int
    valid: bool
    errors: list[ImportRowError]
    applied: dict[str, int] = Field(description="Rows applied, by table (empty for a dry run).")


class AlertSettings(_Out):
    digest_hour_utc: int
    recipients: list[str]
    source: str = Field(description="`set` (through the API, console or CLI) or `environment`.")
    set_by: str | None
    set_at: str | None


class RecordTypeSettings(_Out):
    record_type: str
    cadence_minutes: int
    create_status: str
    alert_mode: str
    updated_at: datetime


class ConfigChange(_Out):
    seq: int
    change_id: str
    table: str
    key: str
    action: str
    actor: str = Field(description="The authenticated user who made the change.")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_at: datetime


# ---- exceptions, outbox, digest ----------------------------------------------------------------
class ExceptionLinks(_Out):
    audit_entry: str | None = Field(description="GET: its audit entry.")
    force_sync: str = Field(description="POST: force-sync its record.")


class ExceptionPages(_Out):
    exception: str | None
    record: str
    audit_entry: str | None


class SyncExceptionOut(_Out):
    id: int
    kind: str
    record_type: str
    record_id: str
    organisation_id: str
    customer: str | None
    message: str
    details: Any
    audit_entry_id: str | None
    source_topic: str
    status: str = Field(description="open or resolved.")
    first_seen: str
    last_seen: str
    occurrences: int
    notified_at: str | None
    resolved_at: str | None
    resolved_by: str | None
    links: ExceptionLinks
    pages: ExceptionPages


class ExceptionList(_Out):
    exceptions: list[SyncExceptionOut]
    count: int


class OutboxMessage(_Out):
    id: str
    from_: str | None = Field(alias="from")
    to: str | None
    subject: str | None
    date: str | None
    text: str


class Outbox(_Out):
    messages: list[OutboxMessage]
    count: int


class DigestSent(_Out):
    """How many exceptions each kind of email carried."""

    immediate: int
    digest: int


# ---- audit log (served by the audit service, passed through) -----------------------------------
class AuditEntry(_Out):
    """An entry; in full (request, response, payload) when read alone."""

    entry_id: str
    at: str
    kind: str
    topic: str


class AuditPage(_Out):
    entries: list[AuditEntry]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last.")
    count: int


def ok(model: Any, description: str = "Successful Response", status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A success answer described by `model` in the document (the route answers a plain dict)."""
    return {status: {"model": model, "description": description}}
