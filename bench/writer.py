"""The writer against the Xero simulator: Xero calls per synced record on a
backfill, a 20,000-invoice backfill over 3 organisations at Xero's real limits
as a ratio to the floor those limits allow, and force-sync-like latency of one
record through the running writer (produce -> Xero write -> write result).

Everything is real: the embedded broker and PostgreSQL, the Xero simulator
over HTTP (in this process, on a free port), the writer as its own process.

    python -m bench.writer [invoices]     (default 20000)
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
import uvicorn
from confluent_kafka import Consumer
from cryptography.fernet import Fernet

from services.common.codec import Codec
from services.common.kafka import make_producer
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import XERO_WRITE_RESULTS, XERO_WRITES
from services.common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.state import build_state
from services.stack.parts import start_embedded_parts
from services.stack.supervisor import Supervisor

from .ingest import free_port

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
PER_MINUTE = 60


def serve_simulator(limits: Limits):
    state = build_state(generate(7, 1))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(state, limits=limits), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", state, server


def connect_organisations(postgres: str, root: str, box: SecretBox) -> None:
    with psycopg.connect(postgres, autocommit=True) as conn:
        for org in ORGANISATIONS:
            code = httpx.get(f"{root}/_sandbox/authorize", params={"tenant": org.short}).json()["code"]
            token = httpx.post(f"{root}/connect/token", auth=(XERO_CLIENT_ID, XERO_CLIENT_SECRET),
                               data={"grant_type": "authorization_code", "code": code}).json()["refresh_token"]
            conn.execute("insert into organisations (id, name, tenant_id, credential_sealed, credential_updated_at, "
                         "status) values (%s, %s, %s, %s, now(), 'connected')",
                         (org.short, org.name, org.tenant_id, box.seal(token)))


def request(state, short: str, cw_id: int, number: str, trigger: str = "SCHEDULE") -> dict:
    contacts = sorted(state.org(next(o.tenant_id for o in ORGANISATIONS if o.short == short)).contacts)
    contact = contacts[cw_id % len(contacts)]
    body = {"Type": "ACCREC", "InvoiceNumber": number, "Contact": {"ContactID": contact}, "Date": "2026-11-02",
            "DueDate": "2026-12-02", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Managed services", "Quantity": "1.0000", "UnitAmount": f"{100 + cw_id % 900}.50",
                           "AccountCode": "200", "TaxType": "OUTPUT"},
                          {"Description": "Backup", "Quantity": "3.0000", "UnitAmount": "12.25",
                           "AccountCode": "200", "TaxType": "OUTPUT"}]}
    text = json.dumps(body, sort_keys=True)
    return {"request_id": str(uuid.uuid4()), "organisation_id": short, "record_type": "invoice", "cw_id": cw_id,
            "content_hash": hashlib.sha256(text.encode()).hexdigest(), "operation": "UPSERT", "endpoint": "Invoices",
            "body": text, "natural_key": number, "trigger": trigger, "mapped_at": datetime.now(timezone.utc)}


class Results:
    """Collects write results in a thread: cw id -> (arrival time, outcome)."""

    def __init__(self, bootstrap: str, codec: Codec):
        self.codec, self.seen, self.stop = codec, {}, threading.Event()
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                  "fetch.wait.max.ms": 10})
        self.consumer.subscribe([XERO_WRITE_RESULTS.name])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for msg in self.consumer.consume(500, 0.005):
                if not msg.error():
                    record = self.codec.decode(msg.value())[1]
                    self.seen[record["cw_id"]] = (time.perf_counter(), record["outcome"])

    def wait(self, cw_ids, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(i in self.seen for i in cw_ids):
                return max(self.seen[i][0] for i in cw_ids)
            time.sleep(0.005)
        missing = [i for i in cw_ids if i not in self.seen]
        raise RuntimeError(f"{len(missing)} results missing after {timeout}s")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.consumer.close()


def start_writer(settings: Settings, bootstrap: str, postgres: str, root: str, secret: str, per_minute: int,
                 log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({"CZ_KAFKA_BOOTSTRAP": bootstrap, "CZ_POSTGRES_URL": postgres, "CZ_XERO_URL": f"{root}/api.xro/2.0",
                "CZ_XERO_TOKEN_URL": f"{root}/connect/token", "CZ_XERO_CLIENT_ID": XERO_CLIENT_ID,
                "CZ_XERO_CLIENT_SECRET": XERO_CLIENT_SECRET, "CZ_SECRET_KEY": secret,
                "CZ_DATA_DIR": str(settings.data_dir), "CZ_WRITER_PORT": str(free_port()),
                "CZ_SESSION_TIMEOUT_MS": "3000", "CZ_XERO_LIMIT_PER_MINUTE": str(per_minute),
                "CZ_WRITER_GROUP": f"writer-{uuid.uuid4()}", "CZ_LOG_JSON": "false"})
    return subprocess.Popen([sys.executable, "-m", "services.writer"], cwd=ROOT, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def api_calls(postgres: str) -> int:
    with psycopg.connect(postgres) as conn:
        return int(conn.execute("select coalesce(sum(calls), 0) from api_usage").fetchone()[0])


def main(total: int = 20000) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-writer-"))
    os.chmod(data_dir, 0o755)
    settings = Settings(data_dir=data_dir, kafka_port=free_port(), postgres_port=free_port())
    supervisor = Supervisor(data_dir / "logs")
    writer = None
    try:
        bootstrap, postgres = start_embedded_parts(supervisor, settings)
        codec = Codec.from_directory()
        secret = Fernet.generate_key().decode()
        root, state, server = serve_simulator(Limits())  # Xero's real limits: 5 concurrent, 60/min, 5,000/day
        connect_organisations(postgres, root, SecretBox(secret))
        results = Results(bootstrap, codec)
        producer = make_producer(bootstrap)
        writer = start_writer(settings, bootstrap, postgres, root, secret, PER_MINUTE, data_dir / "writer.log")

        # Warm-up: one invoice per organisation (tokens, consumer assignment), then a clean minute.
        shorts = [o.short for o in ORGANISATIONS]
        warm = [request(state, s, 900000 + i, f"W-{i}") for i, s in enumerate(shorts)]
        for r in warm:
            producer.produce(XERO_WRITES.name, key=r["organisation_id"].encode(), value=codec.encode("xero_write_request", r))
        producer.flush(30)
        results.wait([r["cw_id"] for r in warm], 120)
        time.sleep(61)
        calls_before = api_calls(postgres)

        per_org = {s: 0 for s in shorts}
        started = time.perf_counter()
        for i in range(total):
            short = shorts[i % 3]
            per_org[short] += 1
            r = request(state, short, i + 1, f"BF-{i + 1}")
            producer.produce(XERO_WRITES.name, key=short.encode(), value=codec.encode("xero_write_request", r))
            if i % 1000 == 0:
                producer.poll(0)
        producer.flush(60)
        produced = time.perf_counter() - started
        finished = results.wait(range(1, total + 1), 1800)
        seconds = finished - started
        calls = api_calls(postgres) - calls_before
        outcomes = statistics.multimode([results.seen[i][1] for i in range(1, total + 1)])
        in_xero = sum(1 for o in state.organisations.values() for inv in o.invoices.values()
                      if str(inv.get("InvoiceNumber", "")).startswith("BF-"))

        busiest = max(per_org.values())
        calls_needed = math.ceil(busiest / BATCH)
        floor = (math.ceil(calls_needed / PER_MINUTE) - 1) * 60.0
        steady = calls_needed / PER_MINUTE * 60.0

        # Force-sync latency: the limits raised so the backfill's spent minute does not count.
        writer.terminate()
        writer.wait(30)
        httpx.post(f"{root}/_sandbox/limits", json={"per_minute": 6000, "reset": True})
        writer = start_writer(settings, bootstrap, postgres, root, secret, 6000, data_dir / "writer.log")
        latencies = []
        for n in range(40):
            r = request(state, shorts[n % 3], 800000 + n, f"FS-{n}", trigger="FORCE_SYNC")
            t0 = time.perf_counter()
            producer.produce(XERO_WRITES.name, key=r["organisation_id"].encode(), value=codec.encode("xero_write_request", r))
            producer.flush(10)
            latencies.append(results.wait([r["cw_id"]], 120) - t0)
        latencies = latencies[5:]  # the first ones include the restarted writer joining its group
        q = statistics.quantiles(latencies, n=20)

        print(f"backfill:                      {total} invoices over 3 organisations ({', '.join(f'{k} {v}' for k, v in per_org.items())})")
        print(f"  outcomes:                    {outcomes}; invoices in Xero: {in_xero}")
        print(f"  produced in {produced:.1f} s, all written in {seconds:.1f} s")
        print(f"  Xero calls:                  {calls} = {calls / total:.4f} per synced record (goal <= 0.03; "
              f"50 per call is 0.02)")
        print(f"  floor at the real limits:    {busiest} invoices in the busiest organisation need "
              f"ceil({busiest}/50) = {calls_needed} calls;")
        print(f"                               at 60 calls per rolling minute per organisation (organisations in "
              f"parallel), the first 60 go at once and each further 60 a minute later: "
              f"({math.ceil(calls_needed / PER_MINUTE)} - 1) x 60 s = {floor:.0f} s")
        if floor > 0:
            print(f"  ratio to the floor:          {seconds / floor:.2f}x  (to the steady-rate figure "
                  f"{calls_needed}/60 min = {steady:.0f} s: {seconds / steady:.2f}x)")
        else:
            print("  ratio to the floor:          n/a (everything fits in one minute's budget; use more invoices)")
        print(f"force-sync-like latency:       p50 {q[9] * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms "
              f"(one request at a time, produce -> Xero write -> result on {XERO_WRITE_RESULTS.name}, "
              f"{len(latencies)} samples)")
        results.close()
        server.should_exit = True
    finally:
        if writer is not None and writer.poll() is None:
            writer.terminate()
            writer.wait(30)
        supervisor.stop_all()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
