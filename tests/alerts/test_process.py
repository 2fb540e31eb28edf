"""The alerts service as its own process: an exception on the broker becomes
an email in the capture mailbox; the digest hook works over HTTP; SIGTERM stops it."""
import pytest
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx

from services.common.kafka import make_producer
from services.common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS
from services.common.outbox import read_messages
from tests.audit.factories import sync_exception
from tests.groups import start_at_end
from tests.conftest import free_port

pytestmark = pytest.mark.integration

TOKEN = "alerts-process-token"


def test_alerts_process_emails_an_exception_and_stops_cleanly(tmp_path, kafka_bootstrap, fresh_database, mailbox, codec):
    smtp_url, mail_dir = mailbox
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update(CZ_DATA_DIR=str(tmp_path), CZ_KAFKA_BOOTSTRAP=kafka_bootstrap, CZ_POSTGRES_URL=fresh_database,
               CZ_SMTP_URL=smtp_url, CZ_ALERTS_PORT=str(port), CZ_ADMIN_TOKEN=TOKEN, CZ_SESSION_TIMEOUT_MS="6000",
               CZ_ALERT_CHECK_SECONDS="1", CZ_LOG_JSON="true",
               CZ_ALERTS_GROUP=f"alerts-process-{uuid.uuid4().hex}")
    start_at_end(kafka_bootstrap, env["CZ_ALERTS_GROUP"], [SYNC_EXCEPTIONS.name, XERO_WRITE_RESULTS.name])
    log = tmp_path / "alerts.log"
    proc = subprocess.Popen([sys.executable, "-m", "services.alerts"], env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)

        run = uuid.uuid4().hex[:8]
        producer = make_producer(kafka_bootstrap)
        producer.produce(SYNC_EXCEPTIONS.name, key=b"k",
                         value=codec.encode("sync_exception", sync_exception(record_id=run, kind="tax_mismatch")))
        producer.flush(10)
        deadline = time.monotonic() + 60
        while not (mine := [m for m in read_messages(mail_dir) if run in m["subject"]]):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert mine[0]["subject"] == f"[Connect Zero] invoice {run}: tax_mismatch"
        assert f"/records/invoice/{run} " in mine[0]["text"]

        digest = httpx.post(f"{url}/digest/send", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert digest.status_code == 200 and set(digest.json()) == {"immediate", "digest"}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    assert '"alerts service stopped"' in log.read_text()
