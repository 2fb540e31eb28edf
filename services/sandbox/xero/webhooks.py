"""Xero webhooks: events on invoice, contact and credit-note changes, POSTed
to a registered receiver in batches signed with x-xero-signature
(base64 HMAC-SHA256 of the raw body with the webhook key). Registering runs
Xero's intent-to-receive handshake first: an empty payload with a good
signature must get 200 and one with a bad signature 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
from typing import Any

import httpx

from ...common.sandbox_identity import XERO_WEBHOOK_KEY
from .state import XeroState

log = logging.getLogger(__name__)
CATEGORY_PATHS = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}


def sign(body: bytes, key: str = XERO_WEBHOOK_KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(
        self,
        state: XeroState,
        base_url: str = "https://api.xero.com",
        key: str = XERO_WEBHOOK_KEY,
        batch_seconds: float = 0.5,
    ) -> None:
        self.state = state
        self.base_url = base_url
        self.key = key
        self.batch_seconds = batch_seconds
        self.url: str | None = None
        self.sequence = 0
        self.delivered: list[dict[str, Any]] = []  # outcome of each delivery, newest last
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        state.listeners.append(self.on_change)

    def on_change(self, tenant_id: str, category: str, resource_id: str, event_type: str) -> None:
        if self.url is None or category not in CATEGORY_PATHS:
            return
        self.sequence += 1
        self._queue.put(
            {
                "resourceUrl": f"{self.base_url}/api.xro/2.0/{CATEGORY_PATHS[category]}/{resource_id}",
                "resourceId": resource_id,
                "eventDateUtc": self.state.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                "eventType": event_type,
                "eventCategory": category,
                "tenantId": tenant_id,
                "tenantType": "ORGANISATION",
                "_sequence": self.sequence,
            }
        )

    def payload(self, events: list[dict[str, Any]]) -> bytes:
        sequences = [e["_sequence"] for e in events] or [0]
        body = {
            "events": [{k: v for k, v in e.items() if not k.startswith("_")} for e in events],
            "firstEventSequence": min(sequences),
            "lastEventSequence": max(sequences),
            "entropy": secrets.token_hex(10).upper(),
        }
        return json.dumps(body).encode()

    def _post(self, url: str, body: bytes, signature: str) -> int:
        response = httpx.post(
            url, content=body, timeout=5.0, headers={"content-type": "application/json", "x-xero-signature": signature}
        )
        return response.status_code

    def register(self, url: str) -> dict[str, Any]:
        """Intent to receive: the receiver must accept a good signature and
        refuse a bad one; only then is it registered."""
        body = self.payload([])
        try:
            good = self._post(url, body, sign(body, self.key))
            bad = self._post(url, body, sign(body, self.key + "-wrong"))
        except httpx.HTTPError as exc:
            return {"registered": False, "url": url, "error": f"receiver unreachable: {exc.__class__.__name__}"}
        ok = good == 200 and bad == 401
        if ok:
            self.url = url
            self.start()
        return {"registered": ok, "url": url, "goodSignatureStatus": good, "badSignatureStatus": bad}

    def unregister(self) -> None:
        self.url = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="xero-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            events = [first]
            try:
                while len(events) < 100:
                    nxt = self._queue.get(timeout=self.batch_seconds)
                    if nxt is None:
                        self._deliver(events)
                        return
                    events.append(nxt)
            except queue.Empty:
                pass
            self._deliver(events)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        url = self.url
        if url is None:
            return
        body = self.payload(events)
        try:
            status = self._post(url, body, sign(body, self.key))
        except httpx.HTTPError as exc:
            status = 0
            log.warning("webhook delivery failed: %s", exc.__class__.__name__)
        self.delivered.append({"events": len(events), "status": status})
        del self.delivered[:-100]
