"""ConnectWise payments into Xero: Xero calls per synced payment on a backfill of
10,000 payments over 3 organisations (floor 0.02: one call carries 50), and how
long it takes at Xero's real limits against the floor those limits allow.

Everything is real: the embedded broker and PostgreSQL, the Xero simulator over
HTTP, the writer as its own process. The invoices the payments apply to are
written first through the same writer with the limits raised, so the figure
counts payment calls only.

    python -m bench.writer_payments [payments]     (default 10000)
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

from services.common.codec import Codec
from services.common.echo import xero_reference
from services.common.kafka import make_producer
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import XERO_WRITES
from services.common.sandbox_identity import ORGANISATIONS
from services.sandbox.xero.ratelimit import Limits
from services.stack.parts import start_embedded_parts
from services.stack.supervisor import Supervisor

from .ingest import free_port
from .writer import BATCH, PER_MINUTE, Results, api_calls, connect_organisations, request, serve_simulator, start_writer

PAYMENTS_PER_INVOICE = 2


def payment_request(org: str, cw_id: int, invoice_xero_id: str) -> dict:
    reference = xero_reference("payment", cw_id, f"ConnectWise payment {cw_id}")
    body = {"Invoice": {"InvoiceID": invoice_xero_id}, "Account": {"Code": "090"}, "Date": "2026-11-20",
            "Amount": "10.00", "Reference": reference}
    text = json.dumps(body, sort_keys=True)
    return {"request_id": str(uuid.uuid4()), "organisation_id": org, "record_type": "payment", "cw_id": cw_id,
            "content_hash": hashlib.sha256(text.encode()).hexdigest(), "operation": "UPSERT", "endpoint": "Payments",
            "body": text, "natural_key": reference, "trigger": "SCHEDULE", "mapped_at": datetime.now(timezone.utc)}


def produce(producer, codec: Codec, requests: list[dict]) -> None:
    for n, r in enumerate(requests):
        producer.produce(XERO_WRITES.name, key=r["organisation_id"].encode(), value=codec.encode("xero_write_request", r))
        if n % 1000 == 0:
            producer.poll(0)
    producer.flush(60)


def main(total: int = 10000) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-payments-"))
    os.chmod(data_dir, 0o755)
    settings = Settings(data_dir=data_dir, kafka_port=free_port(), postgres_port=free_port())
    supervisor = Supervisor(data_dir / "logs")
    writer = results = None
    try:
        bootstrap, postgres = start_embedded_parts(supervisor, settings)
        codec = Codec.from_directory()
        secret = Fernet.generate_key().decode()
        root, state, _server = serve_simulator(Limits(per_minute=6000, per_day=100000))
        connect_organisations(postgres, root, SecretBox(secret))
        results = Results(bootstrap, codec)
        producer = make_producer(bootstrap)
        writer = start_writer(settings, bootstrap, postgres, root, secret, 6000, data_dir / "writer.log")
        shorts = [o.short for o in ORGANISATIONS]

        invoices = math.ceil(total / PAYMENTS_PER_INVOICE)
        print(f"writing {invoices} invoices to pay ...", flush=True)
        produce(producer, codec, [request(state, shorts[i % 3], 1_000_000 + i, f"PAY-{i}") for i in range(invoices)])
        results.wait(range(1_000_000, 1_000_000 + invoices), 600)
        with psycopg.connect(postgres) as conn:
            xero_ids = {int(r[0]): (r[1], r[2]) for r in conn.execute(
                "select cw_id, organisation_id, xero_id from xero_ledger where record_type = 'invoice'")}

        # Xero's real limits from here on, and a clean minute.
        writer.terminate()
        writer.wait(30)
        httpx.post(f"{root}/_sandbox/limits", json={"per_minute": PER_MINUTE, "per_day": 5000, "reset": True})
        writer = start_writer(settings, bootstrap, postgres, root, secret, PER_MINUTE, data_dir / "writer.log")
        time.sleep(61)
        calls_before = api_calls(postgres)
        payments, per_org = [], Counter()
        for n in range(total):
            org, invoice = xero_ids[1_000_000 + n % invoices]
            payments.append(payment_request(org, 2_000_000 + n, invoice))
            per_org[org] += 1
        started = time.perf_counter()
        produce(producer, codec, payments)
        finished = results.wait(range(2_000_000, 2_000_000 + total), 1800)
        seconds = finished - started
        calls = api_calls(postgres) - calls_before
        outcomes = Counter(results.seen[2_000_000 + n][1] for n in range(total))
        in_xero = sum(1 for o in state.organisations.values() for p in o.payments.values()
                      if "[cz:payment:2" in p.get("Reference", "") and p["Status"] != "DELETED")
        calls_needed = math.ceil(max(per_org.values()) / BATCH)
        floor = (math.ceil(calls_needed / PER_MINUTE) - 1) * 60.0
        # One call carries up to BATCH payments of one organisation, so the floor of 1/BATCH calls per
        # payment is met when no organisation took more calls than its payments fill.
        fewest = sum(math.ceil(n / BATCH) for n in per_org.values())
        meets = calls <= fewest
        print(f"payments written: {total} ({dict(outcomes)}), in Xero: {in_xero}")
        print(f"Xero calls: {calls} -> {calls / total:.4f} calls per payment "
              f"{'meets' if meets else 'MISSES'} the floor of {1 / BATCH:.2f} (one call per {BATCH} payments of an "
              f"organisation: {fewest} calls at least)")
        print(f"backfill at 60 calls/min per organisation: {seconds:.1f} s "
              f"(floor {floor:.0f} s for {calls_needed} calls in the busiest organisation)")
        return 0 if meets and in_xero == total else 1
    finally:
        if results is not None:
            results.close()
        if writer is not None:
            writer.terminate()
            writer.wait(30)
        supervisor.stop_all()


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000))
