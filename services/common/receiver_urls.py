"""Where ConnectWise and Xero reach the receivers, and which callbacks ConnectWise is
asked for, declared once: the receivers serve these paths, ingest registers the
callback URL with ConnectWise, and the secret in it is what `redact.py` keeps out
of logs and the audit log."""

from __future__ import annotations

CW_CALLBACK_PREFIX = "/connectwise/callbacks/"  # followed by the installation's secret
XERO_WEBHOOK_PATH = "/xero/webhooks"
# The callback types ingest asks ConnectWise for, by their normalised name (lower case, no
# separators) -> as registered. Payments and credit memos applied change their invoice,
# so an Invoice callback covers invoices, credit memos, payments and refunds.
CW_CALLBACK_TYPES = {"invoice": "Invoice", "purchaseorder": "PurchaseOrder"}


def normalised_type(value: str) -> str:
    """ConnectWise writes a callback's Type as `Invoice`, `invoice` or `purchase_order` alike."""
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


def public_base(settings) -> str | None:
    """The public base URL of the receivers; None when they are not exposed (schedule only)."""
    return settings.receivers_public_url.rstrip("/") or None


def cw_callback_url(base: str, secret: str) -> str:
    return f"{base.rstrip('/')}{CW_CALLBACK_PREFIX}{secret}"


def xero_webhook_url(base: str) -> str:
    return f"{base.rstrip('/')}{XERO_WEBHOOK_PATH}"
