"""The SMTP server away for a minute: every alert raised meanwhile goes out once it is back,
each exception named once, nothing lost (the real broker, Postgres and SMTP capture server)."""
import time
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from psycopg.rows import dict_row

from services.alerts.app import ExceptionRecorder, Notifier, create_app
from services.common.kafka import make_producer
from services.common.outbox import read_messages
from services.common.settings import Settings
from services.common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS
from tests.audit.factories import sync_exception
from tests.groups import start_at_end
from tests.stackutil import wait_for

pytestmark = pytest.mark.integration
TOKEN = "alerts-outage-token"
OUTAGE_SECONDS = 60


def send_failures() -> float:
    return REGISTRY.get_sample_value("cz_alert_send_failures_total") or 0.0


def exceptions_of(db: str, run: str) -> list[dict]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute("select record_id, kind, notified_at from exceptions where record_id like %s",
                            (f"{run}%",)).fetchall()


def test_an_smtp_server_down_for_a_minute_loses_nothing(tmp_path, kafka_bootstrap, fresh_database, smtp_server, codec):
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        smtp_url=smtp_server.url, admin_token=TOKEN, alert_check_seconds=1, session_timeout_ms=6000)
    notifier = Notifier(settings)
    group = f"alerts-outage-{uuid.uuid4().hex}"
    start_at_end(kafka_bootstrap, group, [SYNC_EXCEPTIONS.name, XERO_WRITE_RESULTS.name])
    recorder = ExceptionRecorder(settings, codec, on_new=notifier.wake.set, group=group)
    producer = make_producer(kafka_bootstrap)
    run = uuid.uuid4().hex[:8]
    raised = [("missing_contact", f"{run}-{i}") for i in range(3)] + [("unknown_account", f"{run}-{i}") for i in (3, 4)]

    with TestClient(create_app(settings, recorder, notifier)) as client:
        smtp_server.stop()
        down_since = time.monotonic()
        failures_before = send_failures()
        for kind, record_id in raised:
            value = codec.encode("sync_exception", sync_exception(record_id=record_id, kind=kind))
            producer.produce(SYNC_EXCEPTIONS.name, key=record_id.encode(), value=value)
        producer.flush(10)
        wait_for(lambda: len(exceptions_of(fresh_database, run)) == len(raised), what="the exceptions recorded")

        refused = client.post("/check", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 503 and f"127.0.0.1:{smtp_server.port}" in refused.json()["detail"]
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert send_failures() - failures_before >= 3  # check after check failed
        assert all(e["notified_at"] is None for e in exceptions_of(fresh_database, run))
        assert read_messages(smtp_server.data_dir) == []

        smtp_server.start()  # back, at the same address
        wait_for(lambda: all(e["notified_at"] for e in exceptions_of(fresh_database, run)), timeout=60,
                 what="every exception emailed once the server is back")
        time.sleep(2)  # a few more checks: nothing is sent twice

    mails = read_messages(smtp_server.data_dir)
    assert sorted(m["subject"].split(": ")[1].split(" ")[0] for m in mails) == ["missing_contact", "unknown_account"]
    text = "\n".join(m["text"] for m in mails)
    for kind, record_id in raised:
        assert text.count(f"invoice {record_id} ") == 1, record_id  # each record named once, in its kind's email
