"""The audit service as its own process (`python -m services.audit`): health,
search over HTTP, clean SIGTERM, and SIGKILL mid-stream losing and doubling nothing."""
import csv
import io
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from services.audit.consumer import audited_topics
from services.common.kafka import make_producer
from services.common.topics import API_EXCHANGES
from tests.conftest import free_port

from .factories import exchange
from tests.groups import start_at_end

pytestmark = pytest.mark.integration

TOKEN = "process-test-token"


class AuditProcess:
    def __init__(self, data_dir, kafka_bootstrap, port):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
        self.env.update(CZ_DATA_DIR=str(data_dir), CZ_KAFKA_BOOTSTRAP=kafka_bootstrap, CZ_AUDIT_PORT=str(port),
                        CZ_ADMIN_TOKEN=TOKEN, CZ_SESSION_TIMEOUT_MS="6000", CZ_LOG_JSON="true",
                        CZ_AUDIT_GROUP=f"audit-process-{uuid.uuid4().hex}")
        self.url, self.log = f"http://127.0.0.1:{port}", data_dir / "audit.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "services.audit"], env=self.env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"audit never healthy:\n{self.log.read_text()[-3000:]}")

    def export(self, params) -> list[dict]:
        resp = httpx.get(f"{self.url}/audit.csv", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        resp.raise_for_status()
        return list(csv.DictReader(io.StringIO(resp.text)))

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def audit_process(tmp_path, kafka_bootstrap):
    proc = AuditProcess(tmp_path, kafka_bootstrap, free_port())
    yield proc
    if proc.proc and proc.proc.poll() is None:
        proc.proc.kill()
        proc.proc.wait(10)


def produce_exchanges(bootstrap, codec, run, count):
    producer = make_producer(bootstrap)
    for i in range(count):
        producer.produce(API_EXCHANGES.name, key=b"xero",
                         value=codec.encode("api_exchange", exchange(customer=f"c-{run}", record_id=f"{run}-{i}")))
        if i % 100 == 0:
            producer.poll(0)
    producer.flush(20)


def test_sigkill_mid_stream_then_restart_keeps_every_entry_exactly_once(audit_process, kafka_bootstrap, codec):
    run = uuid.uuid4().hex[:8]
    start_at_end(kafka_bootstrap, audit_process.env["CZ_AUDIT_GROUP"], audited_topics())
    produce_exchanges(kafka_bootstrap, codec, run, 3000)
    audit_process.start()
    deadline = time.monotonic() + 60
    while not audit_process.export({"customer": run}):  # killed as soon as the first batch landed
        assert time.monotonic() < deadline
        time.sleep(0.05)
    audit_process.stop(signal.SIGKILL)
    produce_exchanges(kafka_bootstrap, codec, run, 500)  # more arrive while it is down

    audit_process.start()
    deadline = time.monotonic() + 90
    while len(rows := audit_process.export({"customer": run})) < 3500:
        assert time.monotonic() < deadline, f"only {len(rows)} of 3500 entries"
        time.sleep(0.5)
    time.sleep(2)  # anything replayed after the kill has landed by now
    rows = audit_process.export({"customer": run})
    ids = [r["entry_id"] for r in rows]
    assert len(ids) == 3500 and len(set(ids)) == 3500
    # SIGTERM: a graceful stop (uvicorn re-raises the signal after its shutdown, hence -15)
    assert audit_process.stop() in (0, -signal.SIGTERM)
    assert '"audit service stopped"' in audit_process.log.read_text()


def test_a_retention_set_while_it_runs_holds_across_a_restart(audit_process):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    audit_process.env["CZ_AUDIT_RETENTION_DAYS"] = "90"
    audit_process.start()
    assert httpx.get(f"{audit_process.url}/settings/retention", headers=headers).json()["source"] == "environment"
    put = httpx.put(f"{audit_process.url}/settings/retention", json={"retention_days": 200, "set_by": "finance"},
                    headers=headers)
    assert put.status_code == 200 and put.json()["retention_days"] == 200
    assert audit_process.stop() in (0, -signal.SIGTERM)

    audit_process.env["CZ_AUDIT_RETENTION_DAYS"] = "60"  # the environment says otherwise at the next start
    audit_process.start()
    now = httpx.get(f"{audit_process.url}/settings/retention", headers=headers).json()
    assert (now["retention_days"], now["source"], now["set_by"], now["environment_days"]) == (200, "set", "finance", 60)
    assert "set by finance" in audit_process.log.read_text()
