"""The audit service end to end: real broker, real chdb, its HTTP API."""
import csv
import io
import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient

from services.audit.app import create_app
from services.audit.consumer import AuditConsumer, audited_topics
from services.common.kafka import make_producer
from services.common.settings import Settings
from services.common.topics import API_EXCHANGES, SYNC_EXCEPTIONS, XERO_WRITE_RESULTS

from .factories import exchange, sync_exception, write_result
from tests.groups import start_at_end
from tests.stackutil import wait_for
from tests.stackutil import QUICK_JOIN

TOKEN = "audit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def read_topic(bootstrap: str, topic: str, timeout: float = 10) -> list:
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.3)
        if msg is not None and not msg.error():
            got.append(msg)
    consumer.close()
    return got


@pytest.fixture
def settings(tmp_path, kafka_bootstrap):
    return Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, admin_token=TOKEN, session_timeout_ms=6000)


def test_exchanges_and_events_become_searchable_poison_is_parked_and_secrets_never_stored(settings, store, codec):
    run = uuid.uuid4().hex[:10]
    group = f"audit-test-{run}"
    start_at_end(settings.kafka_bootstrap, group, audited_topics())
    producer = make_producer(settings.kafka_bootstrap)
    # Produced raw, as a buggy client might: the audit service must redact on its own.
    leaky = exchange(
        customer=f"Customer {run}",
        request_headers={"Authorization": "Bearer live-access-token-9f8e", "Xero-tenant-id": "t-1"},
        request_body=f'{{"refresh_token": "rt-{run}-secret", "note": "{run}"}}',
        response_body='{"access_token": "at-secret-77", "expires_in": 1800}',
        url=f"https://api.xero.com/api.xro/2.0/Invoices?where={run}",
    )
    producer.produce(API_EXCHANGES.name, key=b"xero", value=codec.encode("api_exchange", leaky))
    producer.produce(API_EXCHANGES.name, key=f"poison-{run}".encode(), value=b"\x00\x00\x00\x03\xe7garbage")
    after_poison = exchange(customer=f"Customer {run}", status=503)
    producer.produce(API_EXCHANGES.name, key=b"xero", value=codec.encode("api_exchange", after_poison))
    producer.produce(SYNC_EXCEPTIONS.name, key=b"invoice:1",
                     value=codec.encode("sync_exception", sync_exception(customer=f"Customer {run}")))
    producer.produce(XERO_WRITE_RESULTS.name, key=b"procurement:77",
                     value=codec.encode("xero_write_result", write_result(errors=[f"gave up {run}"])))
    producer.flush(10)

    consumer = AuditConsumer(settings, store, codec, group=group)
    with TestClient(create_app(settings, store, consumer)) as client:
        page = wait_for(lambda: (lambda p: p if p["count"] >= 4 else None)(
            client.get("/audit", params={"q": run}, headers=AUTH).json()))
        kinds = sorted((e["topic"], e["status"]) for e in page["entries"])
        assert kinds == sorted([("api.exchanges.v1", "200"), ("api.exchanges.v1", "503"),
                                ("sync.exceptions.v1", "EXCEPTION"), ("xero.write_results.v1", "FAILED")])
        assert wait_for(lambda: client.get("/healthz").status_code == 200)

        full = client.get(f"/audit/{leaky['exchange_id']}", headers=AUTH).json()
        assert full["request_headers"]["Authorization"] == "***"
        assert '"refresh_token": "***"' in full["request_body"] and run in full["request_body"]
        assert '"access_token": "***"' in full["response_body"]
        exported = client.get("/audit.csv", params={"customer": run}, headers=AUTH).text
        for secret in ("live-access-token-9f8e", f"rt-{run}-secret", "at-secret-77"):
            assert secret not in exported and secret not in str(full)

    parked = [m for m in read_topic(settings.kafka_bootstrap, API_EXCHANGES.dlq) if m.key() == f"poison-{run}".encode()]
    assert len(parked) == 1
    headers = dict(parked[0].headers())
    assert headers["dlq.service"] == b"audit" and headers["dlq.origin.topic"] == API_EXCHANGES.name.encode()
    assert b"schema id 999" in headers["dlq.error"]


@pytest.fixture
def client(settings, store):
    from services.audit.entries import entry_from_message

    store.insert([entry_from_message("api.exchanges.v1", "api_exchange",
                                     exchange(exchange_id=f"h{i}", customer="Acme" if i % 2 else "Globex", status=200 + i),
                                     b"", None) for i in range(5)])
    with TestClient(create_app(settings, store)) as client:
        yield client


def test_http_api_needs_the_token(client):
    assert client.get("/audit").status_code == 401
    assert client.get("/audit", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/audit.csv").status_code == 401
    assert client.get("/audit/h1").status_code == 401
    assert client.get("/healthz").status_code == 200


def test_http_api_pages_filters_and_exports(client):
    first = client.get("/audit", params={"limit": 2}, headers=AUTH).json()
    second = client.get("/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=AUTH).json()
    assert [e["entry_id"] for e in first["entries"] + second["entries"]] == ["h4", "h3", "h2", "h1"]
    response = client.get("/audit.csv", params={"customer": "acme", "limit": 1}, headers=AUTH)
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert [r["entry_id"] for r in csv.DictReader(io.StringIO(response.text))] == ["h3", "h1"]
    assert client.get("/audit/h2", headers=AUTH).json()["status"] == "202"


def test_http_api_explains_bad_input(client):
    response = client.get("/audit", params={"from": "last tuesday"}, headers=AUTH)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "from"]
    assert client.get("/audit.csv", params={"record_type": "bills"}, headers=AUTH).status_code == 422
    missing = client.get("/audit/nope", headers=AUTH)
    assert missing.status_code == 404 and "entry_id" in missing.json()["detail"]
