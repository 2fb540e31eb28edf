"""Running the writer as a real process against the real broker, Postgres and Xero simulator."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from confluent_kafka import Consumer

from services.common.codec import FramingError
from services.common.kafka import make_producer
from services.common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS, XERO_WRITES
from services.common.sandbox_identity import XERO_CLIENT_ID, XERO_CLIENT_SECRET
from tests.conftest import free_port
from tests.stackutil import QUICK_JOIN

ROOT = Path(__file__).resolve().parents[2]


class WriterProcess:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "WriterProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.writer"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def writer_env(bootstrap: str, db: str, sim, secret: str, tmp: Path, per_minute: int = 600, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({
        "CZ_KAFKA_BOOTSTRAP": bootstrap, "CZ_POSTGRES_URL": db, "CZ_XERO_URL": sim.api_url,
        "CZ_XERO_TOKEN_URL": sim.token_url, "CZ_XERO_CLIENT_ID": XERO_CLIENT_ID,
        "CZ_XERO_CLIENT_SECRET": XERO_CLIENT_SECRET, "CZ_SECRET_KEY": secret, "CZ_DATA_DIR": str(tmp),
        "CZ_WRITER_PORT": str(free_port()), "CZ_SESSION_TIMEOUT_MS": "3000", "CZ_LOG_JSON": "false",
        "CZ_XERO_LIMIT_PER_MINUTE": str(per_minute), "CZ_SANDBOX": "false",
        # Each test its own group: a writer killed by an earlier test must not hold partitions.
        "CZ_WRITER_GROUP": f"writer-{uuid.uuid4()}",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def write_request(org_id: str, cw_id: int, body: dict, operation: str = "UPSERT", endpoint: str = "Invoices",
                  record_type: str = "invoice", trigger: str = "SCHEDULE") -> dict:
    content = json.dumps(body, sort_keys=True)
    number = body.get("InvoiceNumber") or body.get("CreditNoteNumber") or str(cw_id)
    return {"request_id": str(uuid.uuid4()), "organisation_id": org_id, "record_type": record_type, "cw_id": cw_id,
            "content_hash": hashlib.sha256(f"{operation}{content}".encode()).hexdigest(), "operation": operation,
            "endpoint": endpoint, "body": content, "natural_key": number, "trigger": trigger,
            "mapped_at": datetime.now(timezone.utc)}


def produce(bootstrap: str, codec, requests: list[dict]) -> None:
    producer = make_producer(bootstrap)
    for r in requests:
        producer.produce(XERO_WRITES.name, key=r["organisation_id"].encode(), value=codec.encode("xero_write_request", r))
    producer.flush(30)


class TopicReader:
    """Reads results and exceptions for some organisations, from the start of the topics."""

    def __init__(self, bootstrap: str, codec, org_ids: set[str]):
        self.codec, self.org_ids = codec, org_ids
        self.consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.consumer.subscribe([XERO_WRITE_RESULTS.name, SYNC_EXCEPTIONS.name])
        self.results: list[dict] = []
        self.exceptions: list[dict] = []

    def poll(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(500, 0.2):
                if msg.error():
                    continue
                try:
                    name, record = self.codec.decode(msg.value())
                except FramingError:  # another test's poison on the shared broker
                    continue
                if record.get("organisation_id") not in self.org_ids:
                    continue
                (self.results if name == "xero_write_result" else self.exceptions).append(record)

    def close(self) -> None:
        self.consumer.close()


def wait_until(predicate, timeout: float, every: float = 0.25, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
