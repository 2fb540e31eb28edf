"""Every configuration change is kept (who, when, before, after) and published on
config.changes.v1 through the real broker, including changes made while it was
not reachable."""
from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.db import connect
from services.common.topics import CONFIG_CHANGES
from services.mapping import repository as repo
from services.mapping.changes import ChangePublisher
from tests.stackutil import QUICK_JOIN

from .config_fixtures import AUTH, make_client, make_settings


def published(bootstrap: str, codec, wanted: set[str], timeout: float = 30) -> dict[str, dict]:
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(CONFIG_CHANGES.name, 0, OFFSET_BEGINNING)])
    found, deadline = {}, time.monotonic() + timeout
    try:
        while not wanted <= set(found) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            _name, event = codec.decode(msg.value())
            if event["change_id"] in wanted:
                found[event["change_id"]] = dict(event, message_key=msg.key().decode())
    finally:
        consumer.close()
    return found


def test_api_changes_are_published_with_who_before_and_after(fresh_database, kafka_bootstrap, codec, tmp_path):
    settings = make_settings(fresh_database, kafka_bootstrap=kafka_bootstrap, tmp_path=tmp_path)
    with make_client(settings) as client:
        org_name = f"Harbour {uuid.uuid4().hex[:6]}"
        assert client.post("/api/organisations", json={"id": "adelaide", "name": org_name, "tenant_id": str(uuid.uuid4()),
                                                       "refresh_token": "never-published"}, headers=AUTH).status_code == 201
        assert client.put("/api/settings/credit_note", json={"alert_mode": "digest"}, headers=AUTH).status_code == 200
        history = client.get("/api/config/changes", headers=AUTH).json()
    assert [c["table"] for c in history] == ["record_type_settings", "organisations"]
    events = published(kafka_bootstrap, codec, {c["change_id"] for c in history})
    assert len(events) == 2
    setting = events[history[0]["change_id"]]
    assert setting["message_key"] == "record_type_settings" and setting["key"] == "credit_note"
    assert setting["actor"] == "finance@harbour.example" and setting["action"] == "update"
    assert json.loads(setting["before"])["alert_mode"] == "immediate" and json.loads(setting["after"])["alert_mode"] == "digest"
    org = events[history[1]["change_id"]]
    assert json.loads(org["after"])["name"] == org_name and "never-published" not in json.dumps(org, default=str)
    with connect(fresh_database) as conn:
        deadline = time.monotonic() + 10
        while conn.execute("select count(*) as n from config_changes where published_at is null").fetchone()["n"]:
            assert time.monotonic() < deadline, "changes still pending after they were published"
            time.sleep(0.2)
            conn.commit()


def test_changes_made_without_a_broker_are_published_later(fresh_database, kafka_bootstrap, codec):
    with connect(fresh_database, autocommit=True) as conn:
        with conn.transaction():
            change = repo.put_settings(conn, "invoice", {"cadence_minutes": 120}, "ops")
        offline = ChangePublisher("")
        assert offline.publish_pending(conn) == 0
        pending = conn.execute("select change_id from config_changes where published_at is null").fetchall()
        assert len(pending) == 1 and change["cadence_minutes"] == 120
        assert ChangePublisher(kafka_bootstrap, codec).publish_pending(conn) == 1
        assert ChangePublisher(kafka_bootstrap, codec).publish_pending(conn) == 0  # published once only
    change_id = str(pending[0]["change_id"])
    assert published(kafka_bootstrap, codec, {change_id})[change_id]["actor"] == "ops"


def test_a_large_backlog_is_published_in_batches(fresh_database, kafka_bootstrap, codec):
    with connect(fresh_database, autocommit=True) as conn:
        with conn.transaction():
            for n in range(7):
                repo.record_change(conn, "bench", str(n), "create", "ops", None, {"n": n})
        publisher = ChangePublisher(kafka_bootstrap, codec)
        assert [publisher.publish_pending(conn, limit=3) for _ in range(4)] == [3, 3, 1, 0]
