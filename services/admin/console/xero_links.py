"""Where a record we wrote can be opened in Xero's own web app (go.xero.com deep links,
which open in the organisation the person last used in Xero)."""

from __future__ import annotations

from urllib.parse import quote

XERO_WEB = "https://go.xero.com"
_PAGES = {
    "invoice": "/AccountsReceivable/View.aspx?InvoiceID={id}",
    "credit_note": "/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={id}",
    "procurement": "/AccountsPayable/View.aspx?InvoiceID={id}",
}


def xero_link(record_type: str, xero_id: str | None) -> str | None:
    """The page of the document in Xero; payments have none of their own (they show on their invoice)."""
    page = _PAGES.get(record_type)
    return f"{XERO_WEB}{page.format(id=quote(xero_id, safe=''))}" if page and xero_id else None
