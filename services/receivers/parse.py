"""What ConnectWise and Xero POST, read into the hints the receivers queue. Pure.

Neither is trusted as data: a ConnectWise callback carries the whole record in
`Entity`, and it is ignored; only which record changed is kept, and ingest fetches
it. A Xero event names a record; xero_status fetches it. A body that cannot be
read raises `BadPayload`, naming the field and why.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from ..common.receiver_urls import CW_CALLBACK_TYPES, normalised_type

ACTIONS = ("added", "updated", "deleted")


class BadPayload(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body or b"")
    except ValueError:
        raise BadPayload("body", "not JSON") from None
    if not isinstance(data, dict):
        raise BadPayload("body", "must be a JSON object")
    return data


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise BadPayload(field, f"must be a number, got {value!r}")
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise BadPayload(field, f"must be a number, got {value!r}") from None
    if number <= 0:
        raise BadPayload(field, f"must be positive, got {number}")
    return number


def callback_hint(body: bytes, received_at: datetime) -> dict | None:
    """A `cw_callback` record for one ConnectWise callback, or None for a type ingest does not
    follow (ConnectWise may send others to the same URL)."""
    data = _json_object(body)
    kind = data.get("Type")
    if not isinstance(kind, str) or not kind.strip():
        raise BadPayload("Type", "missing")
    cw_id = _positive_int(data.get("ID"), "ID")
    action = str(data.get("Action") or "updated").strip().lower()
    if action not in ACTIONS:
        raise BadPayload("Action", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    cw_type = normalised_type(kind)
    if cw_type not in CW_CALLBACK_TYPES:
        return None
    message_id = data.get("MessageId")
    return {
        "callback_id": str(message_id) if message_id else str(uuid.uuid4()),
        "cw_type": cw_type,
        "cw_id": cw_id,
        "action": action,
        "received_at": received_at,
    }


def _event_date(value: Any) -> datetime | None:
    """Xero writes `2026-11-27T10:00:00.123` (UTC, no offset)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def webhook_events(body: bytes, received_at: datetime) -> list[dict]:
    """The `xero_webhook_event` records of one verified webhook delivery (none for the
    intent-to-receive handshake)."""
    data = _json_object(body)
    events = data.get("events")
    if not isinstance(events, list):
        raise BadPayload("events", "missing or not a list")
    found = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        if not isinstance(event, dict):
            raise BadPayload(where, "must be an object")
        values = {}
        for name in ("tenantId", "resourceId", "eventCategory", "eventType"):
            value = event.get(name)
            if not isinstance(value, str) or not value.strip():
                raise BadPayload(f"{where}.{name}", "missing")
            values[name] = value.strip()
        date = event.get("eventDateUtc")
        key = "|".join(
            (values["tenantId"], values["eventCategory"], values["resourceId"], values["eventType"], str(date or ""))
        )
        found.append(
            {
                "event_key": hashlib.sha256(key.encode()).hexdigest(),
                "tenant_id": values["tenantId"],
                "event_category": values["eventCategory"].upper(),
                "event_type": values["eventType"].upper(),
                "resource_id": values["resourceId"],
                "resource_url": event.get("resourceUrl") or None,
                "event_date": _event_date(date),
                "received_at": received_at,
            }
        )
    return found
