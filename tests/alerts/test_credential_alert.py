"""A lost Xero credential is one alert per organisation, whatever the records waiting on it: the
writer as a process against the Xero simulator, the real broker, Postgres and SMTP server."""
import time
import uuid

import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from services.alerts.app import ExceptionRecorder, Notifier, create_app
from services.common.outbox import read_messages
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS, XERO_WRITES
from services.mapping import repository
from tests.groups import start_at_end
from tests.integrations.xero.sim import add_organisations, invoice_body, running_simulator
from tests.stackutil import wait_for
from tests.writer.harness import WriterProcess, produce, write_request, writer_env

pytestmark = pytest.mark.integration


def credential_exceptions(db: str, org_id: str) -> list[dict]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute("select record_id, notified_at from exceptions where kind = 'xero_credential'"
                            " and organisation_id = %s and status = 'open'", (org_id,)).fetchall()


def test_a_revoked_credential_with_200_pending_invoices_sends_one_email(kafka_bootstrap, fresh_database, codec,
                                                                         mailbox, tmp_path):
    smtp_url, mail_dir = mailbox
    secret = Fernet.generate_key().decode()
    box = SecretBox(secret)
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database,
                        smtp_url=smtp_url, secret_key=secret, admin_token="alerts-credential-test",
                        admin_public_url="http://admin.test:8080", alert_check_seconds=0.5, session_timeout_ms=6000)
    notifier = Notifier(settings)
    group = f"alerts-credential-{uuid.uuid4().hex}"
    start_at_end(kafka_bootstrap, group, [SYNC_EXCEPTIONS.name, XERO_WRITE_RESULTS.name])
    recorder = ExceptionRecorder(settings, codec, on_new=notifier.wake.set, group=group)

    with running_simulator() as sim, TestClient(create_app(settings, recorder, notifier)):
        orgs = add_organisations(fresh_database, box, sim, suffix=f"-c{time.time_ns() % 10**9}")
        sydney = orgs["sydney"]
        sim.control("revoke-refresh-token")  # the connection is revoked in Xero
        env = writer_env(kafka_bootstrap, fresh_database, sim, secret, tmp_path)
        # Its writer reads only this test's requests, not those other tests left for organisations it lacks.
        start_at_end(kafka_bootstrap, env["CZ_WRITER_GROUP"], [XERO_WRITES.name])
        writer = WriterProcess(env, tmp_path / "writer.log").start()
        try:
            produce(kafka_bootstrap, codec, [
                write_request(sydney, 50_000 + i, invoice_body(sim, "sydney", f"SYD-{i}")) for i in range(200)])
            wait_for(lambda: len(credential_exceptions(fresh_database, sydney)) == 200, timeout=120,
                     what="200 xero_credential exceptions")
            wait_for(lambda: all(e["notified_at"] for e in credential_exceptions(fresh_database, sydney)),
                     what="every record named by the organisation's alert")
            time.sleep(2)  # a few more checks: still one email
            mails = read_messages(mail_dir)
            assert [m["subject"] for m in mails] == [f"[Connect Zero] Xero connection lost for organisation {sydney}"]
            assert f"({sydney}) cannot write to Xero" in mails[0]["text"]
            assert "Xero refused its credential" in mails[0]["text"] or "invalid_grant" in mails[0]["text"]

            # A person reconnects the organisation: one more email, that it writes again.
            with psycopg.connect(fresh_database, row_factory=dict_row, autocommit=True) as conn:
                repository.update_organisation(conn, sydney, {"refresh_token": sim.sign_in("sydney")["refresh_token"]},
                                               box, "finance")
            wait_for(lambda: len(read_messages(mail_dir)) == 2, what="the recovery email")
            assert read_messages(mail_dir)[0]["subject"] == f"[Connect Zero] Organisation {sydney} writes to Xero again"
        finally:
            writer.stop()
