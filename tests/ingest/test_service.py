"""`python -m services.ingest` as the supervisor runs it: health, a first cycle, a clean stop."""
from __future__ import annotations

import pytest
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from services.common import sandbox_identity as identity
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_service_runs_its_first_cycles_and_stops_cleanly(cw_sim, kafka_bootstrap, fresh_database, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({
        "CZ_DATA_DIR": str(tmp_path), "CZ_INGEST_PORT": str(port), "CZ_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CZ_POSTGRES_URL": fresh_database, "CZ_CW_URL": cw_sim.url, "CZ_CW_COMPANY": identity.CW_COMPANY,
        "CZ_CW_PUBLIC_KEY": identity.CW_PUBLIC_KEY, "CZ_CW_PRIVATE_KEY": identity.CW_PRIVATE_KEY,
        "CZ_CW_CLIENT_ID": identity.CW_CLIENT_ID, "CZ_SESSION_TIMEOUT_MS": "3000", "CZ_LOG_JSON": "true",
    })
    proc = subprocess.Popen([sys.executable, "-m", "services.ingest"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        healthy = False
        while time.monotonic() < deadline and not healthy:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok"
            except (httpx.HTTPError, ValueError):
                time.sleep(0.2)
        assert healthy, "ingest never reported healthy"

        invoices = len(cw_sim.state.c["invoices"])
        expected = {f"cw:{t}": "ok" for t in ("invoice", "credit_note", "procurement", "payment", "refund")}
        done = {}
        while time.monotonic() < deadline + 30:
            with psycopg.connect(fresh_database) as conn:
                done = dict(conn.execute("select source, last_cycle_status from sync_cursors").fetchall())
                emitted = conn.execute("select count(*) from sync_records where record_type in"
                                       " ('invoice', 'credit_note') and content_hash is not null").fetchone()[0]
            if done == expected:
                break
            time.sleep(0.3)
        assert done == expected
        assert emitted == invoices
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'cz_ingest_cycles_total{outcome="ok",record_type="invoice"} 1.0' in metrics
        assert identity.CW_PRIVATE_KEY not in metrics
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, out
    assert identity.CW_PRIVATE_KEY not in out  # the secret never reaches the logs
