"""Turns one decoded Kafka message into one audit entry (a flat row).

Pure: no I/O. Every text that reaches the row is redacted again here, even
though producers already redact, because a producer bug must not leave a
secret in a log kept for up to a year.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from ..common.audit_ids import event_entry_id
from ..common.redact import redact_body, redact_headers, redact_text, redact_value

MAX_TEXT = 256 * 1024  # same cut as the exchange recorder: the log is for reading, not archiving

# Columns of the audit table, in order; the store and the CSV export use this list.
COLUMNS = (
    "entry_id",
    "at",
    "kind",
    "topic",
    "api",
    "service",
    "organisation_id",
    "record_type",
    "record_id",
    "customer",
    "status",
    "method",
    "url",
    "duration_ms",
    "summary",
    "error",
    "request_headers",
    "request_body",
    "response_headers",
    "response_body",
    "payload",
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact in the log
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot put {type(value).__name__} in an audit entry")


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = redact_text(str(value))
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"... [{len(text) - MAX_TEXT} more characters]"


def _utc(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return fallback


def _base(entry_id: str, at: datetime, kind: str, topic: str) -> dict:
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row.update(entry_id=entry_id, at=at.astimezone(timezone.utc), kind=kind, topic=topic, duration_ms=0.0)
    return row


def exchange_entry(topic: str, record: dict, fallback_at: datetime) -> dict:
    """An API exchange: the full request and response, secrets redacted again."""
    row = _base(record["exchange_id"], _utc(record.get("started_at"), fallback_at), "exchange", topic)
    row.update(
        api=record.get("api") or "",
        service=record.get("service") or "",
        organisation_id=record.get("organisation_id") or "",
        record_type=record.get("record_type") or "",
        record_id=record.get("record_id") or "",
        customer=_text(record.get("customer")),
        status=str(record.get("status", "")),
        method=record.get("method") or "",
        url=_text(record.get("url")),
        duration_ms=float(record.get("duration_ms") or 0.0),
        error=_text(record.get("error")),
        request_headers=json.dumps(redact_headers(record.get("request_headers") or {}), sort_keys=True),
        request_body=_text(redact_body(record.get("request_body"))),
        response_headers=json.dumps(redact_headers(record.get("response_headers") or {}), sort_keys=True),
        response_body=_text(redact_body(record.get("response_body"))),
    )
    row["summary"] = _text(
        f"{row['method']} {row['url']} -> {row['status'] if row['status'] not in ('', '0') else 'no response'}"
        + (f" ({row['error']})" if row["error"] else "")
        + f" in {row['duration_ms']:.0f} ms"
    )
    return row


def _event_fields(schema: str, r: dict) -> dict:
    """Filter columns and a one-line summary for each event type."""
    if schema in ("cw_invoice_changed", "cw_purchase_order_changed", "cw_payment_changed"):
        number = r.get("invoice_number") or r.get("po_number") or ""
        customer = (
            r.get("company_name")
            or r.get("vendor_company_name")
            or r.get("company_identifier")
            or r.get("vendor_company_identifier")
            or ""
        )
        amount = r.get("total", r.get("amount"))
        return dict(
            record_type=r.get("record_type", ""),
            record_id=str(r.get("cw_id", "")),
            customer=customer,
            status=str(r.get("change") or ""),
            service="ingest",
            summary=f"ConnectWise {r.get('record_type')} {r.get('cw_id')} {number} ({customer}) "
            f"{str(r.get('change', '')).lower()} by {str(r.get('trigger', '')).lower()}"
            + (f", status {r['status']}" if r.get("status") else "")
            + (f", amount {amount}" if amount is not None else ""),
        )
    if schema == "xero_payment_received":
        return dict(
            record_type="xero_payment",
            record_id=r.get("payment_id", ""),
            customer=r.get("contact_name") or "",
            organisation_id=r.get("organisation_id", ""),
            status=r.get("status", ""),
            service="ingest",
            summary=f"Xero payment {r.get('payment_id')} of {r.get('amount')} {r.get('currency')} "
            f"from {r.get('contact_name') or 'unknown contact'} for invoice {r.get('invoice_number') or '?'}",
        )
    if schema == "sync_command":
        return dict(
            record_type=r.get("record_type", ""),
            record_id=r.get("record_id") or "",
            status=str(r.get("action", "")),
            service="admin",
            summary=f"{r.get('action')} {r.get('record_type')} {r.get('record_id') or ''} requested by "
            f"{r.get('requested_by') or 'unknown'}".replace("  ", " "),
        )
    if schema == "xero_write_request":
        return dict(
            record_type=r.get("record_type", ""),
            record_id=str(r.get("cw_id", "")),
            organisation_id=r.get("organisation_id", ""),
            status=str(r.get("operation", "")),
            service="mapper",
            summary=f"{r.get('operation')} {r.get('record_type')} {r.get('cw_id')} to {r.get('endpoint')} "
            f"for organisation {r.get('organisation_id')}",
        )
    if schema == "xero_write_result":
        errors = "; ".join(r.get("errors") or [])
        return dict(
            record_type=r.get("record_type", ""),
            record_id=str(r.get("cw_id", "")),
            organisation_id=r.get("organisation_id", ""),
            status=str(r.get("outcome", "")),
            service="writer",
            summary=f"{r.get('record_type')} {r.get('cw_id')} {r.get('outcome')} in organisation "
            f"{r.get('organisation_id')}"
            + (f" as {r['xero_id']}" if r.get("xero_id") else "")
            + (f": {errors}" if errors else ""),
        )
    if schema == "sync_exception":
        return dict(
            record_type=r.get("record_type", ""),
            record_id=r.get("record_id", ""),
            customer=r.get("customer") or "",
            organisation_id=r.get("organisation_id") or "",
            status="EXCEPTION",
            summary=f"exception {r.get('kind')} on {r.get('record_type')} {r.get('record_id')}: {r.get('message')}",
        )
    if schema == "cw_callback":
        return dict(
            record_id=str(r.get("cw_id", "")),
            status=str(r.get("action", "")),
            service="receivers",
            summary=f"ConnectWise callback: {r.get('cw_type')} {r.get('cw_id')} {r.get('action')}",
        )
    if schema == "xero_webhook_event":
        return dict(
            record_id=r.get("resource_id", ""),
            status=r.get("event_type", ""),
            service="receivers",
            summary=f"Xero webhook: {r.get('event_category')} {r.get('resource_id')} {r.get('event_type')} "
            f"in tenant {r.get('tenant_id')}",
        )
    if schema == "xero_document_state":
        return dict(
            record_type=r.get("record_type", ""),
            record_id=str(r.get("cw_id", "")),
            organisation_id=r.get("organisation_id", ""),
            status=r.get("xero_status", ""),
            service="xero_status",
            summary=f"{r.get('record_type')} {r.get('cw_id')} is {r.get('xero_status')} in Xero (was "
            f"{r.get('previous_status') or 'unknown'})"
            + (": voided or deleted there, the books now disagree" if r.get("removed_in_xero") else ""),
        )
    if schema == "config_change":
        return dict(
            record_id=r.get("key", ""),
            status=r.get("action", ""),
            service="admin",
            summary=f"{r.get('table')} {r.get('key')} {r.get('action')} by {r.get('actor') or 'unknown'}",
        )
    return dict(summary=f"{schema} event")


def _redact_record(value: Any) -> Any:
    """Secret fields replaced, also inside JSON carried as a string (a record's
    `raw`, a write's `body`, a config change's `before`/`after`), where a text
    pattern would not see them through the escaped quotes."""
    if isinstance(value, dict):
        return {k: _redact_record(v) for k, v in redact_value(value).items()}
    if isinstance(value, list):
        return [_redact_record(v) for v in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        return redact_body(value)
    return value


_EVENT_TIME = ("raised_at", "written_at", "mapped_at", "requested_at", "changed_at", "observed_at", "received_at")


def event_entry(topic: str, schema: str, record: dict, value: bytes, fallback_at: datetime) -> dict:
    """Any other event: filter columns, a summary, and the whole event as JSON."""
    at = next((record[k] for k in _EVENT_TIME if isinstance(record.get(k), datetime)), fallback_at)
    row = _base(event_entry_id(topic, value), _utc(at, fallback_at), "event", topic)
    for name, value_ in _event_fields(schema, record).items():
        row[name] = _text(value_)
    row["payload"] = _text(json.dumps(_redact_record(record), default=_json_default, sort_keys=True))
    return row


def entry_from_message(topic: str, schema: str, record: dict, value: bytes, timestamp_ms: int | None) -> dict:
    fallback = (
        datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc)
        if timestamp_ms and timestamp_ms > 0
        else datetime.now(timezone.utc)
    )
    if schema == "api_exchange":
        return exchange_entry(topic, record, fallback)
    return event_entry(topic, schema, record, value, fallback)
