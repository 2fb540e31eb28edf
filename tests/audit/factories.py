"""Records shaped like the product's events, for the audit tests."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal


def exchange(**overrides) -> dict:
    record = {
        "exchange_id": str(uuid.uuid4()), "api": "xero", "service": "writer", "organisation_id": "org-a",
        "record_type": "invoice", "record_id": "1001", "customer": "Acme Pty Ltd", "method": "POST",
        "url": "https://api.xero.com/api.xro/2.0/Invoices", "status": 200, "duration_ms": 42.0,
        "request_headers": {"Content-Type": "application/json"}, "request_body": '{"InvoiceNumber": "INV-1001"}',
        "response_headers": {"X-MinLimit-Remaining": "59"}, "response_body": '{"Status": "OK"}', "error": None,
        "started_at": datetime.now(timezone.utc),
    }
    record.update(overrides)
    return record


def sync_exception(**overrides) -> dict:
    record = {
        "exception_id": str(uuid.uuid4()), "kind": "missing_contact", "record_type": "invoice", "record_id": "1001",
        "organisation_id": "org-a", "customer": "Acme Pty Ltd", "message": "no Xero contact for Acme Pty Ltd",
        "details": {"company_identifier": "AcmePty"}, "audit_entry_id": None, "raised_at": datetime.now(timezone.utc),
    }
    record.update(overrides)
    return record


def write_result(**overrides) -> dict:
    record = {
        "request_id": str(uuid.uuid4()), "organisation_id": "org-b", "record_type": "procurement", "cw_id": 77,
        "outcome": "FAILED", "xero_id": None, "xero_status": None, "errors": ["Xero kept answering 503"],
        "total": Decimal("1234.5600"), "written_at": datetime.now(timezone.utc),
    }
    record.update(overrides)
    return record


def sync_command(**overrides) -> dict:
    record = {
        "command_id": str(uuid.uuid4()), "action": "FORCE_SYNC", "record_type": "credit_note", "record_id": "555",
        "window_from": None, "window_to": None, "requested_by": "ops", "requested_at": datetime.now(timezone.utc),
    }
    record.update(overrides)
    return record
