"""The receivers over real HTTP, queueing onto the real broker: ConnectWise's simulator
delivers callbacks to them, Xero's simulator runs its intent-to-receive handshake and
signs its events, and strangers are refused with nothing queued."""
from __future__ import annotations

import json
import logging
import time
import uuid

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.codec import Codec, FramingError
from services.common.receiver_urls import CW_CALLBACK_PREFIX, XERO_WEBHOOK_PATH, cw_callback_url
from services.common.settings import Settings
from services.common.topics import CW_CALLBACKS, XERO_WEBHOOKS
from services.receivers.app import create_app
from services.receivers.queue import HintQueue
from services.receivers.signature import sign
from services.sandbox.connectwise.app import create_app as create_cw_app
from services.sandbox.connectwise.state import CwState
from services.common import sandbox_identity as identity
from services.common.sandbox_identity import ORGANISATIONS, XERO_WEBHOOK_KEY
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app as create_xero_app
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state
from tests.stackutil import QUICK_JOIN

SECRET = "test-callback-" + uuid.uuid4().hex


def read(bootstrap: str, codec: Codec, topic: str, wanted, timeout: float = 15, idle: float = 1.0) -> list[dict]:
    """Every record on `topic` for which `wanted(record)` holds; reads from the beginning until the
    timeout, or `idle` seconds after the last wanted record."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4()}", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 50})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    found, deadline, last = [], time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline and (last is None or time.monotonic() - last < idle):
            for msg in consumer.consume(500, 0.1):
                if msg.error():
                    continue
                try:
                    _, record = codec.decode(msg.value())
                except FramingError:  # another test's poison on the shared broker
                    continue
                if wanted(record):
                    found.append(record)
                    last = time.monotonic()
    finally:
        consumer.close()
    return found


@pytest.fixture
def receivers(kafka_bootstrap, stack_dir):
    settings = Settings(data_dir=stack_dir, kafka_bootstrap=kafka_bootstrap, callback_secret=SECRET,
                        xero_webhook_key=XERO_WEBHOOK_KEY)
    with serving(create_app(settings)) as base:
        yield base


def test_connectwise_callbacks_are_queued_as_hints(receivers, kafka_bootstrap, codec):
    state = CwState.from_seed(3, 0)
    with serving(create_cw_app(state)) as cw_base:
        port = int(cw_base.rsplit(":", 1)[1])
        cw = httpx.Client(base_url=identity.cw_base("127.0.0.1", port), timeout=10,
                          auth=(f"{identity.CW_COMPANY}+{identity.CW_PUBLIC_KEY}", identity.CW_PRIVATE_KEY),
                          headers={"clientId": identity.CW_CLIENT_ID})
        assert cw.post("/system/callbacks", json={"url": cw_callback_url(receivers, SECRET), "type": "Invoice",
                                                   "objectId": 0, "level": "All"}).status_code == 201
        created = cw.post("/finance/invoices", json={"company": {"id": 250}}).json()
        # Delivered in the background, as ConnectWise does: read until the hint is there.
        hints = read(kafka_bootstrap, codec, CW_CALLBACKS.name, lambda r: r["cw_id"] == created["id"])
    assert hints and hints[0]["cw_type"] == "invoice" and hints[0]["action"] == "added"


def test_a_stranger_without_the_secret_is_refused_and_nothing_is_queued(receivers, kafka_bootstrap, codec, caplog):
    stranger_id, honest_id = 900_000_000 + int(time.time()) % 1000, 910_000_000 + int(time.time()) % 1000
    payload = {"MessageId": "m", "Action": "updated", "Type": "invoice", "Entity": "{}"}
    with caplog.at_level(logging.INFO):
        for path in (f"{CW_CALLBACK_PREFIX}wrong-secret", f"{CW_CALLBACK_PREFIX}{SECRET[:-1]}",
                     CW_CALLBACK_PREFIX.rstrip("/")):
            answer = httpx.post(receivers + path, json={**payload, "ID": stranger_id})
            assert answer.status_code in (401, 404, 405), path
        assert httpx.post(receivers + CW_CALLBACK_PREFIX + "wrong-secret",
                          json={**payload, "ID": stranger_id}).status_code == 401
        assert httpx.post(cw_callback_url(receivers, SECRET), json={**payload, "ID": honest_id}).status_code == 200
        bad = httpx.post(cw_callback_url(receivers, SECRET), json={**payload, "ID": "twelve"})
        assert bad.status_code == 400 and bad.json()["field"] == "ID"
    queued = read(kafka_bootstrap, codec, CW_CALLBACKS.name, lambda r: r["cw_id"] in (stranger_id, honest_id))
    assert [r["cw_id"] for r in queued] == [honest_id]
    service_lines = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("services."))
    assert "refused: wrong secret" in service_lines
    assert SECRET not in service_lines and "wrong-secret" not in service_lines


def test_xero_handshake_signed_events_queued_and_bad_signatures_refused(receivers, kafka_bootstrap, codec):
    xero_state = build_state(generate(7, 0))
    with serving(create_xero_app(xero_state)) as xero_base:
        registered = httpx.post(f"{xero_base}/_sandbox/webhooks", json={"url": receivers + XERO_WEBHOOK_PATH},
                                timeout=10).json()
        assert registered == {"registered": True, "url": receivers + XERO_WEBHOOK_PATH,
                              "goodSignatureStatus": 200, "badSignatureStatus": 401}
        token = sign_in(xero_base)["access_token"]
        tenant = ORGANISATIONS[0].tenant_id
        name = f"Webhook {uuid.uuid4().hex[:8]}"
        created = httpx.put(f"{xero_base}/api.xro/2.0/Contacts", json={"Contacts": [{"Name": name}]},
                            headers={"Authorization": f"Bearer {token}", "xero-tenant-id": tenant}).json()
        contact_id = created["Contacts"][0]["ContactID"]
        events = read(kafka_bootstrap, codec, XERO_WEBHOOKS.name, lambda r: r["resource_id"] == contact_id)
    assert [(e["tenant_id"], e["event_category"], e["event_type"]) for e in events] == [(tenant, "CONTACT", "CREATE")]

    forged_id = str(uuid.uuid4())
    forged = json.dumps({"events": [{"resourceId": forged_id, "tenantId": tenant, "eventCategory": "INVOICE",
                                     "eventType": "UPDATE", "eventDateUtc": "2026-11-27T10:00:00"}]}).encode()
    for signature in (sign("not-the-key", forged), "", sign(XERO_WEBHOOK_KEY, forged + b" ")):
        answer = httpx.post(receivers + XERO_WEBHOOK_PATH, content=forged, headers={"x-xero-signature": signature})
        assert answer.status_code == 401 and answer.content == b""
    assert httpx.post(receivers + XERO_WEBHOOK_PATH, content=forged).status_code == 401
    assert read(kafka_bootstrap, codec, XERO_WEBHOOKS.name, lambda r: r["resource_id"] == forged_id, timeout=3) == []


def test_a_signed_batch_of_events_is_answered_within_xeros_five_seconds_and_queued_whole(receivers, kafka_bootstrap,
                                                                                        codec):
    # Xero gives up on an answer after 5 s and counts it a failure: the receiver queues and answers, the work
    # (fetching each changed document) happens behind it.
    ids = [str(uuid.uuid4()) for _ in range(50)]
    raw = json.dumps({"events": [{"resourceId": i, "tenantId": ORGANISATIONS[0].tenant_id, "eventCategory": "INVOICE",
                                  "eventType": "UPDATE", "eventDateUtc": "2026-11-28T00:00:00"} for i in ids]}).encode()
    signed = {"x-xero-signature": sign(XERO_WEBHOOK_KEY, raw)}
    answer = httpx.post(receivers + XERO_WEBHOOK_PATH, content=raw, headers=signed, timeout=10)
    assert answer.status_code == 200 and answer.elapsed.total_seconds() < 5, answer.elapsed
    queued = read(kafka_bootstrap, codec, XERO_WEBHOOKS.name, lambda r: r["resource_id"] in ids)
    assert sorted(e["resource_id"] for e in queued) == sorted(ids)


def test_without_a_broker_the_receivers_answer_503_so_xero_sends_again(stack_dir, codec):
    settings = Settings(data_dir=stack_dir, kafka_bootstrap="127.0.0.1:1", callback_secret=SECRET,
                        xero_webhook_key=XERO_WEBHOOK_KEY)
    with serving(create_app(settings, HintQueue(settings.kafka_bootstrap, codec, timeout=0.5))) as base:
        raw = json.dumps({"events": [{"resourceId": "r", "tenantId": "t", "eventCategory": "INVOICE",
                                      "eventType": "UPDATE"}]}).encode()
        assert httpx.post(base + XERO_WEBHOOK_PATH, content=raw,
                          headers={"x-xero-signature": sign(XERO_WEBHOOK_KEY, raw)}).status_code == 503
        assert httpx.post(cw_callback_url(base, SECRET), json={"Type": "invoice", "ID": 5}).status_code == 503
