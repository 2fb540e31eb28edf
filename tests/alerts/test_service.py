"""The alerts service against real parts: broker, PostgreSQL, the SMTP capture server."""
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from services.alerts.app import ExceptionRecorder, Notifier, create_app
from services.common.audit_ids import event_entry_id
from services.common.db import connect
from services.common.kafka import make_producer
from services.common.settings import Settings
from services.common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS
from services.common.outbox import read_messages
from tests.audit.factories import sync_exception, write_result
from tests.groups import start_at_end
from tests.stackutil import wait_for

TOKEN = "alerts-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def service(tmp_path, kafka_bootstrap, fresh_database, mailbox, codec):
    """The alerts app running (recorder and notifier threads); today's scheduled digest already counts as sent."""
    smtp_url, mail_dir = mailbox
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        smtp_url=smtp_url, admin_token=TOKEN, admin_public_url="http://admin.test:8080",
                        alert_email_to="finance@example.com,ops@example.com", alert_check_seconds=0.5,
                        session_timeout_ms=6000)
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("update record_type_settings set alert_mode = 'digest' where record_type = 'procurement'")
        # Today's scheduled digest counts as sent, so only the hook sends one, whatever the hour.
        conn.execute("insert into alert_digests (day, exceptions) values ((now() at time zone 'utc')::date, 0)")
    notifier = Notifier(settings)
    group = f"alerts-test-{uuid.uuid4().hex}"
    start_at_end(kafka_bootstrap, group, [SYNC_EXCEPTIONS.name, XERO_WRITE_RESULTS.name])
    recorder = ExceptionRecorder(settings, codec, on_new=notifier.wake.set, group=group)
    producer = make_producer(kafka_bootstrap)

    def produce(topic, schema, record):
        value = codec.encode(schema, record)
        producer.produce(topic, key=b"k", value=value)
        producer.flush(10)
        return event_entry_id(topic, value)

    with TestClient(create_app(settings, recorder, notifier)) as client:
        yield client, produce, mail_dir, fresh_database


def open_exceptions(url, run):
    with connect(url) as conn:
        return conn.execute("select * from exceptions where record_id like %s order by id", (f"{run}%",)).fetchall()


def test_immediate_mode_emails_each_new_exception_once_with_its_links(service):
    client, produce, mail_dir, db = service
    run = uuid.uuid4().hex[:8]
    entry = produce(SYNC_EXCEPTIONS.name, "sync_exception", sync_exception(record_id=f"{run}-1"))
    produce(SYNC_EXCEPTIONS.name, "sync_exception",
            sync_exception(record_id=f"{run}-2", kind="unknown_account", message="account 4999 is not mapped",
                           audit_entry_id="exchange-42"))
    mails = wait_for(lambda: (lambda m: m if len(m) >= 2 else None)(read_messages(mail_dir)))
    by_subject = {m["subject"]: m for m in mails}
    first = by_subject[f"[Connect Zero] invoice {run}-1: missing_contact"]
    assert first["to"] == "finance@example.com, ops@example.com"
    assert f"http://admin.test:8080/audit/{entry}" in first["text"]
    assert f"http://admin.test:8080/records/invoice/{run}-1 " in first["text"]
    assert "http://admin.test:8080/exceptions/" in first["text"]
    assert "org-a" in first["text"] and "no Xero contact for Acme Pty Ltd" in first["text"]
    second = by_subject[f"[Connect Zero] invoice {run}-2: unknown_account"]
    assert "/audit/exchange-42" in second["text"]

    # The next cycle raises the same problem again: counted, not emailed again.
    repeat = sync_exception(record_id=f"{run}-1", message="still no Xero contact")
    produce(SYNC_EXCEPTIONS.name, "sync_exception", repeat)
    produce(SYNC_EXCEPTIONS.name, "sync_exception", repeat)  # and a redelivery of that event is not a third
    wait_for(lambda: open_exceptions(db, run)[0]["occurrences"] == 2)
    client.post("/check", headers=AUTH)
    time.sleep(1.5)
    assert len(read_messages(mail_dir)) == 2
    rows = open_exceptions(db, run)
    assert [r["status"] for r in rows] == ["open", "open"] and rows[0]["message"] == "still no Xero contact"
    assert all(r["notified_at"] is not None for r in rows)


def test_digest_mode_holds_exceptions_and_sends_them_in_one_email(service):
    client, produce, mail_dir, db = service
    run = uuid.uuid4().hex[:8]
    produce(SYNC_EXCEPTIONS.name, "sync_exception",
            sync_exception(record_type="procurement", record_id=f"{run}-7", kind="no_tracking_option",
                           message="no tracking option for location Perth"))
    # A write that failed for good: the writer's FAILED result, and its exception that names the cause.
    failed = write_result(record_type="procurement", cw_id=int(time.time() * 1000) % 10**9)
    produce(XERO_WRITE_RESULTS.name, "xero_write_result", failed)
    unavailable_entry = produce(SYNC_EXCEPTIONS.name, "sync_exception", sync_exception(
        record_type="procurement", record_id=f"{run}-8", kind="xero_unavailable", message="Xero kept answering 503",
        organisation_id="org-b", details={"request_id": failed["request_id"]}))
    wait_for(lambda: len(open_exceptions(db, run)) == 2)
    time.sleep(1.5)  # a few notifier checks pass
    assert read_messages(mail_dir) == []  # digest mode: nothing yet
    assert open_exceptions(db, str(failed["cw_id"])) == []  # the result is not a second exception of the failure

    sent = client.post("/digest/send", headers=AUTH)
    assert sent.status_code == 200 and sent.json()["digest"] == 2
    mails = read_messages(mail_dir)
    assert len(mails) == 1
    assert mails[0]["subject"].startswith("[Connect Zero] Daily digest") and "2 exceptions" in mails[0]["subject"]
    assert "no tracking option for location Perth" in mails[0]["text"] and "xero_unavailable" in mails[0]["text"]
    assert f"/audit/{unavailable_entry}" in mails[0]["text"]
    assert client.post("/digest/send", headers=AUTH).json()["digest"] == 0  # nothing is sent twice
    assert client.post("/digest/send").status_code == 401


def test_a_record_written_after_all_resolves_its_exceptions(service):
    client, produce, mail_dir, db = service
    cw_id = int(time.time() * 1000) % 10**9
    produce(SYNC_EXCEPTIONS.name, "sync_exception", sync_exception(record_id=str(cw_id), kind="xero_unavailable"))
    wait_for(lambda: open_exceptions(db, str(cw_id)))
    produce(XERO_WRITE_RESULTS.name, "xero_write_result",
            write_result(record_type="invoice", cw_id=cw_id, outcome="CREATED", errors=[], xero_id="x-1"))
    resolved = wait_for(lambda: [r for r in open_exceptions(db, str(cw_id)) if r["status"] == "resolved"])
    assert resolved[0]["resolved_by"] == "written to Xero"


def test_poison_is_parked_and_the_service_goes_on(service, kafka_bootstrap):
    client, produce, mail_dir, db = service
    producer = make_producer(kafka_bootstrap)
    producer.produce(SYNC_EXCEPTIONS.name, key=b"poison", value=b"not avro at all")
    producer.flush(10)
    run = uuid.uuid4().hex[:8]
    produce(SYNC_EXCEPTIONS.name, "sync_exception", sync_exception(record_id=f"{run}-after"))
    wait_for(lambda: open_exceptions(db, run))
    assert client.get("/healthz").json()["checks"]["consumer"] == "ok"
