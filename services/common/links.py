"""Links into the admin API for one exception: its audit entry and the force-sync of
its record. Alert emails and the admin API show the same links, built here."""
from __future__ import annotations

from urllib.parse import quote


def audit_link(admin_url: str, entry_id: str | None) -> str | None:
    return f"{admin_url.rstrip('/')}/api/audit/{quote(entry_id, safe='')}" if entry_id else None


def force_sync_link(admin_url: str, record_type: str, record_id: str) -> str:
    return f"{admin_url.rstrip('/')}/api/records/{quote(record_type, safe='')}/{quote(record_id, safe='')}/force-sync"


def links(admin_url: str, exc: dict) -> dict:
    return {"audit_entry": audit_link(admin_url, exc.get("audit_entry_id")),
            "force_sync": force_sync_link(admin_url, exc["record_type"], exc["record_id"])}
