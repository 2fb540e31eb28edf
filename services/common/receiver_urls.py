"""Where ConnectWise and Xero reach the receivers, declared once: the receivers serve
these paths, ingest registers the callback URL with ConnectWise, and the secret in
it is what `redact.py` keeps out of logs and the audit log."""
from __future__ import annotations

CW_CALLBACK_PREFIX = "/connectwise/callbacks/"  # followed by the installation's secret
XERO_WEBHOOK_PATH = "/xero/webhooks"


def public_base(settings) -> str | None:
    """The public base URL of the receivers; None when they are not exposed (schedule only)."""
    return settings.receivers_public_url.rstrip("/") or None


def cw_callback_url(base: str, secret: str) -> str:
    return f"{base.rstrip('/')}{CW_CALLBACK_PREFIX}{secret}"


def xero_webhook_url(base: str) -> str:
    return f"{base.rstrip('/')}{XERO_WEBHOOK_PATH}"
