"""Webhooks: the intent-to-receive handshake and signed change events
delivered to a real receiver over HTTP."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from services.common.sandbox_identity import ORGANISATIONS, XERO_WEBHOOK_KEY
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

pytestmark = pytest.mark.integration


def receiver(received: list[dict], honest: bool = True) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        expected = base64.b64encode(hmac.new(XERO_WEBHOOK_KEY.encode(), body, hashlib.sha256).digest()).decode()
        good = hmac.compare_digest(expected, request.headers.get("x-xero-signature", ""))
        if good:
            received.append(json.loads(body))
        return Response(status_code=200 if good or not honest else 401)

    return app


def test_handshake_and_signed_events():
    state = build_state(generate(7, 0))
    received: list[dict] = []
    with serving(create_app(state)) as base, serving(receiver(received)) as hook_base:
        registered = httpx.post(f"{base}/_sandbox/webhooks", json={"url": f"{hook_base}/hook"}, timeout=10).json()
        assert registered == {"registered": True, "url": f"{hook_base}/hook",
                              "goodSignatureStatus": 200, "badSignatureStatus": 401}
        assert received and received[0]["events"] == []  # the handshake's good-signature call
        token = sign_in(base)["access_token"]
        tenant = ORGANISATIONS[0].tenant_id
        created = httpx.put(f"{base}/api.xro/2.0/Contacts", json={"Contacts": [{"Name": "Webhook Pty Ltd"}]},
                            headers={"Authorization": f"Bearer {token}", "xero-tenant-id": tenant})
        contact_id = created.json()["Contacts"][0]["ContactID"]
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        events = received[1]["events"]
        assert events == [{"resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{contact_id}", "resourceId": contact_id,
                           "eventDateUtc": events[0]["eventDateUtc"], "eventType": "CREATE",
                           "eventCategory": "CONTACT", "tenantId": tenant, "tenantType": "ORGANISATION"}]
        assert received[1]["firstEventSequence"] <= received[1]["lastEventSequence"]


def test_receiver_that_accepts_bad_signatures_is_not_registered():
    state = build_state(generate(7, 0))
    with serving(create_app(state)) as base, serving(receiver([], honest=False)) as hook_base:
        reply = httpx.post(f"{base}/_sandbox/webhooks", json={"url": f"{hook_base}/hook"}, timeout=10)
        assert reply.status_code == 400
        assert reply.json()["badSignatureStatus"] == 200 and reply.json()["registered"] is False
