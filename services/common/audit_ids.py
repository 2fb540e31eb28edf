"""How the audit log names an event's entry, so any service that consumed the event can
link to it (an exception's email links to its audit entry) without asking the audit service."""

from __future__ import annotations

import hashlib
import uuid

_ENTRY_NS = uuid.UUID("6f1c1c39-5d0b-4f59-9a57-3f5a1e0c2a11")


def event_entry_id(topic: str, value: bytes) -> str:
    """Deterministic id of an event's entry: a redelivered message lands on the
    same id (the store collapses duplicates), and other services (alerts) can
    link to the entry of an event they consumed without asking the audit service."""
    return str(uuid.uuid5(_ENTRY_NS, f"{topic}:{hashlib.sha256(value).hexdigest()}"))
