"""Sync control and record status routes, against the real broker and Postgres."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.common.record_kinds import RECORD_TYPES
from services.common.settings import Settings
from services.common.topics import SYNC_COMMANDS
from tests.stackutil import QUICK_JOIN

TOKEN = "test-token-sync"


@pytest.fixture
def client(kafka_bootstrap, fresh_database, tmp_path):
    settings = Settings(admin_token=TOKEN, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        data_dir=tmp_path)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        http.database = fresh_database
        yield http


def find_command(bootstrap: str, codec, command_id: str, timeout: float = 15) -> dict:
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(SYNC_COMMANDS.name, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            try:
                _, record = codec.decode(msg.value())
            except ValueError:
                continue
            if record.get("command_id") == command_id:
                assert msg.key() == record["record_type"].encode()
                return record
    finally:
        consumer.close()
    raise AssertionError(f"command {command_id} never reached {SYNC_COMMANDS.name}")


def test_run_cycle_queues_a_command(client, kafka_bootstrap, codec):
    resp = client.post("/api/sync/credit_note/run")
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["action"] == "RUN_CYCLE" and body["record_type"] == "credit_note"
    record = find_command(kafka_bootstrap, codec, body["command_id"])
    assert record["action"] == "RUN_CYCLE" and record["record_type"] == "credit_note"


def test_force_sync_queues_one_record(client, kafka_bootstrap, codec):
    resp = client.post("/api/records/invoice/1234/force-sync")
    assert resp.status_code == 202, resp.text
    record = find_command(kafka_bootstrap, codec, resp.json()["command_id"])
    assert (record["action"], record["record_type"], record["record_id"]) == ("FORCE_SYNC", "invoice", "1234")


def test_xero_payment_force_sync_takes_a_payment_id(client):
    resp = client.post(f"/api/records/xero_payment/{uuid.uuid4()}/force-sync")
    assert resp.status_code == 202, resp.text


def test_unknown_record_type_and_bad_id_are_refused_by_name(client):
    resp = client.post("/api/sync/invoices/run")
    assert resp.status_code == 422 and "'invoices'" in resp.text and "record_type" in resp.text
    resp = client.post("/api/records/invoice/abc/force-sync")
    assert resp.status_code == 422 and "record_id" in resp.text
    resp = client.get("/api/records", params={"record_type": "bill"})
    assert resp.status_code == 422 and "'bill'" in resp.text


def test_replay_queues_the_window(client, kafka_bootstrap, codec):
    resp = client.post("/api/replay", json={"record_type": "invoice", "from": "2026-11-01",
                                            "to": "2026-11-02T12:30:00+10:00"})
    assert resp.status_code == 202, resp.text
    record = find_command(kafka_bootstrap, codec, resp.json()["command_id"])
    assert record["action"] == "REPLAY"
    assert record["window_from"] == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert record["window_to"] == datetime(2026, 11, 2, 2, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("body, needle", [
    ({"record_type": "invoice", "from": "2026-11-05", "to": "2026-11-01"}, "after"),
    ({"record_type": "invoice", "from": "yesterday", "to": "2026-11-01"}, "from"),
    ({"record_type": "invoice", "from": "2026-11-01"}, "to"),
    ({"record_type": "bills", "from": "2026-11-01", "to": "2026-11-02"}, "record_type"),
])
def test_bad_replay_windows_are_refused(client, body, needle):
    resp = client.post("/api/replay", json=body)
    assert resp.status_code == 422 and needle in resp.text, resp.text


def test_routes_need_the_token(client):
    assert client.post("/api/sync/invoice/run", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/records", headers={"Authorization": ""}).status_code == 401


def seed_records(url: str) -> None:
    rows = [
        ("invoice", "1", "INV-0001", "Acme Pty Ltd", "synced", "org-a", "x-1", Decimal("110.00")),
        ("invoice", "2", "INV-0002", "Bravo Co", "exception", "org-b", None, Decimal("55.50")),
        ("invoice", "3", "INV-0003", "Acme Pty Ltd", "pending", None, None, Decimal("10.00")),
        ("credit_note", "4", "CM-0004", "Acme Pty Ltd", "synced", "org-a", "x-4", Decimal("-20.00")),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        for i, (rtype, cw_id, number, customer, status, org, xero, total) in enumerate(rows):
            conn.execute(
                "insert into sync_records (record_type, cw_id, record_number, customer, status, organisation_id,"
                " xero_id, total, updated_at) values (%s,%s,%s,%s,%s,%s,%s,%s, now() - %s * interval '1 minute')",
                (rtype, cw_id, number, customer, status, org, xero, total, i))


def test_records_list_filters_and_pages(client):
    seed_records(client.database)
    everything = client.get("/api/records").json()
    assert everything["total"] == 4
    assert [r["cw_id"] for r in everything["items"]] == ["1", "2", "3", "4"]  # most recently updated first
    first = everything["items"][0]
    assert first["status"] == "synced" and first["xero_id"] == "x-1" and first["organisation_id"] == "org-a"
    assert first["number"] == "INV-0001" and first["customer"] == "Acme Pty Ltd" and Decimal(str(first["total"])) == Decimal("110")

    def ids(**params):
        return [r["cw_id"] for r in client.get("/api/records", params=params).json()["items"]]

    assert ids(record_type="invoice") == ["1", "2", "3"]
    assert ids(status="exception") == ["2"]
    assert ids(organisation="org-a") == ["1", "4"]
    assert ids(q="acme", record_type="invoice") == ["1", "3"]
    assert ids(q="CM-00") == ["4"]
    assert ids(q="x-4") == ["4"]
    assert ids(q="100%") == []
    page = client.get("/api/records", params={"limit": 2, "offset": 1}).json()
    assert [r["cw_id"] for r in page["items"]] == ["2", "3"] and page["total"] == 4
    assert client.get("/api/records", params={"status": "lost"}).status_code == 422


def test_records_show_their_xero_state_and_when_it_changed(client):
    from services.common.record_status import record_changes, xero_state

    seed_records(client.database)
    learned = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    with psycopg.connect(client.database, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        record_changes(conn, [xero_state("invoice", "1", "PAID", organisation_id="org-a", xero_id="x-1", at=learned)])
    paid = next(r for r in client.get("/api/records").json()["items"] if r["cw_id"] == "1")
    assert (paid["status"], paid["xero_status"]) == ("synced", "PAID")
    assert datetime.fromisoformat(paid["xero_status_changed_at"]) == learned
    never = next(r for r in client.get("/api/records").json()["items"] if r["cw_id"] == "3")
    assert never["xero_status"] is None and never["xero_status_changed_at"] is None


def test_sync_status_shows_each_type_with_its_cycle_and_records(client):
    seed_records(client.database)
    with psycopg.connect(client.database, autocommit=True) as conn:
        conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_finished,"
                     " last_cycle_status, progress_seen, progress_total) values ('cw:invoice', '2026-11-20T10:00:00Z',"
                     " '2026-11-25T06:00:00Z', '2026-11-25T06:01:00Z', 'ok', 300, 300)")
        conn.execute("update record_type_settings set cadence_minutes = 60 where record_type = 'invoice'")
    states = {s["record_type"]: s for s in client.get("/api/sync").json()}
    assert set(states) == set(RECORD_TYPES)
    invoice = states["invoice"]
    assert invoice["cadence_minutes"] == 60 and invoice["last_cycle_status"] == "ok"
    assert datetime.fromisoformat(invoice["next_due_at"]) == datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)
    assert (invoice["progress_seen"], invoice["progress_total"]) == (300, 300)
    assert invoice["records_by_status"] == {"synced": 1, "exception": 1, "pending": 1}
    assert states["credit_note"]["last_cycle_started"] is None and states["credit_note"]["next_due_at"] is None
    assert states["credit_note"]["records_by_status"] == {"synced": 1}


def test_xero_payment_cycles_of_every_organisation_make_its_state(client):
    """Payment cycles run per organisation (`xero:payments:<org>`): the row shows them together."""
    def cursor(conn, org, started, finished, status, seen=None, total=None):
        conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_finished,"
                     " last_cycle_status, progress_seen, progress_total) values (%s, %s, %s, %s, %s, %s, %s)"
                     " on conflict (source) do update set last_cycle_started = excluded.last_cycle_started,"
                     " last_cycle_finished = excluded.last_cycle_finished, last_cycle_status ="
                     " excluded.last_cycle_status, progress_seen = excluded.progress_seen,"
                     " progress_total = excluded.progress_total",
                     (f"xero:payments:{org}", "2026-11-25T05:00:00Z", started, finished, status, seen, total))

    def payments():
        return next(s for s in client.get("/api/sync").json() if s["record_type"] == "xero_payment")

    def at(text):
        return datetime.fromisoformat(text) if text else None

    assert payments()["last_cycle_status"] is None  # no organisation has had one yet
    with psycopg.connect(client.database, autocommit=True) as conn:
        cursor(conn, "org-a", "2026-11-25T06:00:00Z", "2026-11-25T06:05:00Z", "ok", 4, 4)
        cursor(conn, "org-b", "2026-11-25T06:10:00Z", "2026-11-25T06:02:00Z", "running", 3, 10)
    running = payments()
    assert running["last_cycle_status"] == "running" and running["next_due_at"] is None
    assert at(running["last_cycle_started"]) == datetime(2026, 11, 25, 6, 10, tzinfo=timezone.utc)
    assert at(running["last_cycle_finished"]) == datetime(2026, 11, 25, 6, 5, tzinfo=timezone.utc)
    assert (running["progress_seen"], running["progress_total"]) == (7, 14)

    with psycopg.connect(client.database, autocommit=True) as conn:
        cursor(conn, "org-b", "2026-11-25T06:10:00Z", "2026-11-25T06:12:00Z", "failed")
    assert payments()["last_cycle_status"] == "failed"  # one organisation failing is not hidden by another's ok
    with psycopg.connect(client.database, autocommit=True) as conn:
        cursor(conn, "org-b", "2026-11-25T06:10:00Z", "2026-11-25T06:12:00Z", "ok")
    done = payments()
    assert done["last_cycle_status"] == "ok"
    assert at(done["last_cycle_finished"]) == datetime(2026, 11, 25, 6, 12, tzinfo=timezone.utc)
    assert at(done["next_due_at"]) > at(done["last_cycle_started"])
