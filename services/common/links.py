"""Links for one exception. Alert emails link to the operator's console: the exception's
page, the record's page (with its Force sync button) and the audit entry's page, each
behind sign-in, which returns the reader to the link. The admin API's JSON also gives
the API routes (`links`) that scripts call. Built here, once, for both."""

from __future__ import annotations

from urllib.parse import quote


def _base(admin_url: str) -> str:
    return admin_url.rstrip("/")


def audit_link(admin_url: str, entry_id: str | None) -> str | None:
    return f"{_base(admin_url)}/api/audit/{quote(entry_id, safe='')}" if entry_id else None


def force_sync_link(admin_url: str, record_type: str, record_id: str) -> str:
    return f"{_base(admin_url)}/api/records/{quote(record_type, safe='')}/{quote(record_id, safe='')}/force-sync"


def links(admin_url: str, exc: dict) -> dict:
    """The API routes of an exception: its audit entry (GET) and the force-sync of its record (POST)."""
    return {
        "audit_entry": audit_link(admin_url, exc.get("audit_entry_id")),
        "force_sync": force_sync_link(admin_url, exc["record_type"], exc["record_id"]),
    }


def exception_page(admin_url: str, exception_id: int | str) -> str:
    return f"{_base(admin_url)}/exceptions/{quote(str(exception_id), safe='')}"


def record_page(admin_url: str, record_type: str, record_id: str) -> str:
    return f"{_base(admin_url)}/records/{quote(record_type, safe='')}/{quote(record_id, safe='')}"


def audit_page(admin_url: str, entry_id: str | None) -> str | None:
    return f"{_base(admin_url)}/audit/{quote(entry_id, safe='')}" if entry_id else None


def pages(admin_url: str, exc: dict) -> dict:
    """The console pages of an exception, for a person: the exception, its record (Force sync), its audit entry."""
    return {
        "exception": exception_page(admin_url, exc["id"]) if exc.get("id") is not None else None,
        "record": record_page(admin_url, exc["record_type"], exc["record_id"]),
        "audit_entry": audit_page(admin_url, exc.get("audit_entry_id")),
    }
