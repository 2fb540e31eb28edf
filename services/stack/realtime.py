"""Real time in the local stack: the Xero simulator's webhook pointed at the receivers.

Xero's webhooks are set up in the Xero app's developer settings, not through the API,
so in production an operator registers `<public URL>/xero/webhooks` there and sets
CZ_XERO_WEBHOOK_KEY. The simulator has a control route for it instead, which runs
the same intent-to-receive handshake; ConnectWise callbacks are registered by ingest
itself (services/ingest/callback_registration.py).
"""

from __future__ import annotations

import httpx


def register_sandbox_webhook(description: dict) -> dict:
    """Registers the receivers with the Xero simulator; returns its answer (registered or why not)."""
    url = description["receivers"]["xero_webhook_url"]
    if not url:
        return {"registered": False, "reason": "the receivers have no public URL"}
    root = description["xero"]["token_url"].rsplit("/connect/token", 1)[0]
    return httpx.post(f"{root}/_sandbox/webhooks", json={"url": url}, timeout=15).json()
