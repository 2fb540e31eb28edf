"""`python -m services.matcher` as the supervisor runs it, against the real broker,
Postgres and ConnectWise simulator: a payment applied once, an unmatchable one
raised, an unreadable message parked in the dead-letter topic, a clean stop."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.kafka import make_producer
from services.common.topics import SYNC_EXCEPTIONS, XERO_PAYMENTS
from services.common import sandbox_identity as identity
from tests.conftest import free_port
from tests.stackutil import QUICK_JOIN

ROOT = Path(__file__).resolve().parents[2]


def event(org: str, payment_id: str, number: str, amount: str, xero_invoice: str, contact: str) -> dict:
    now = datetime.now(timezone.utc)
    return {"organisation_id": org, "tenant_id": "t", "payment_id": payment_id, "invoice_id": xero_invoice,
            "invoice_number": number, "contact_id": contact, "contact_name": "Pinnacle Engineering Co",
            "amount": Decimal(amount), "currency": "AUD", "payment_date": "2026-11-18", "status": "AUTHORISED",
            "payment_type": "ACCRECPAYMENT", "reference": None, "updated_at": now, "trigger": "SCHEDULE",
            "observed_at": now, "raw": "{}", "source": "payment", "parent_id": None}


def read_topic(bootstrap: str, topic: str, partitions: int, want, seconds: float = 30) -> list:
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    found, deadline = [], time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not found:
            found = [m for m in consumer.consume(500, 0.5) if not m.error() and want(m)]
    finally:
        consumer.close()
    return found


def test_matcher_process_applies_raises_and_parks_poison(cw_sim, kafka_bootstrap, fresh_database, codec, tmp_path):
    org, contact, xero_invoice = f"adelaide-{uuid.uuid4().hex[:6]}", str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id, status) values (%s, %s, %s, 'connected')",
                     (org, org, str(uuid.uuid4())))
        conn.execute("insert into xero_contacts (organisation_id, contact_id, name, contact_number) values"
                     " (%s, %s, 'Pinnacle Engineering Co', 'PE0001')", (org, contact))
        conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id) values"
                     " (%s, 'invoice', '1001', %s)", (org, xero_invoice))
    before = cw_sim.state.c["invoices"].get(1001)["balance"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({"CZ_DATA_DIR": str(tmp_path), "CZ_MATCHER_PORT": str(port), "CZ_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "CZ_POSTGRES_URL": fresh_database, "CZ_CW_URL": cw_sim.url, "CZ_CW_COMPANY": identity.CW_COMPANY,
                "CZ_CW_PUBLIC_KEY": identity.CW_PUBLIC_KEY, "CZ_CW_PRIVATE_KEY": identity.CW_PRIVATE_KEY,
                "CZ_CW_CLIENT_ID": identity.CW_CLIENT_ID, "CZ_SESSION_TIMEOUT_MS": "3000", "CZ_LOG_JSON": "true"})
    proc = subprocess.Popen([sys.executable, "-m", "services.matcher"], cwd=ROOT, env=env,
                            stdout=open(tmp_path / "matcher.log", "wb"), stderr=subprocess.STDOUT)
    try:
        paid, lost, poison = str(uuid.uuid4()), str(uuid.uuid4()), f"poison-{uuid.uuid4()}"
        producer = make_producer(kafka_bootstrap)
        for e in (event(org, paid, "INV-10001", "100.00", xero_invoice, contact),
                  event(org, lost, "XR-0404", "12.34", str(uuid.uuid4()), contact)):
            producer.produce(XERO_PAYMENTS.name, key=e["payment_id"].encode(), value=codec.encode("xero_payment_received", e))
        producer.produce(XERO_PAYMENTS.name, key=poison.encode(), value=b"not avro")
        producer.flush(10)

        def status(payment_id):
            with psycopg.connect(fresh_database) as conn:
                return conn.execute("select status, last_error from sync_records where record_type = 'xero_payment'"
                                    " and cw_id = %s", (payment_id,)).fetchone()

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (status(paid) and status(lost)):
            time.sleep(0.5)
        assert status(paid)[0] == "synced", (tmp_path / "matcher.log").read_text()[-3000:]
        assert status(lost)[0] == "exception" and "no invoice numbered XR-0404" in status(lost)[1]
        assert cw_sim.state.c["invoices"].get(1001)["balance"] == before - Decimal("100.00")
        raised = read_topic(kafka_bootstrap, SYNC_EXCEPTIONS.name, SYNC_EXCEPTIONS.partitions,
                            lambda m: m.key() == f"xero_payment:{lost}".encode())
        assert codec.decode(raised[0].value())[1]["kind"] == "unmatched_payment"
        parked = read_topic(kafka_bootstrap, XERO_PAYMENTS.dlq, 1, lambda m: m.key() == poison.encode())
        assert dict(parked[0].headers())["dlq.service"] == b"matcher"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
