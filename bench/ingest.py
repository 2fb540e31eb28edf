"""Events per second through ingest: the ConnectWise simulator (a few thousand
invoices, in its own process) -> ingest cycle -> the embedded Kafka broker,
with the hashes and cursor in embedded PostgreSQL. Also the calls per record
and the time of a second cycle that finds nothing changed.

    python -m bench.ingest [scale] [latency_ms]
        scale 10 is about 3,000 invoices; latency_ms adds that much to every
        ConnectWise answer (a cloud instance answers in 100-300 ms)
"""
from __future__ import annotations

import socket
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
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.database import Database
from services.common.codec import Codec
from services.integrations.connectwise.client import CwClient
from services.common.exchanges import ExchangeRecorder
from services.common.kafka import make_producer
from services.common.settings import Settings
from services.common.record_kinds import RecordKind
from services.common.topics import SYNC_COMMANDS
from services.ingest import app as ingest_app
from services.ingest.cycle import Emitter, Pipeline, run_cycle
from services.ingest.store import Store
from services.common import sandbox_identity as identity
from services.stack.parts import start_embedded_parts
from services.stack.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[1]
SIM = """
import sys, uvicorn
from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from services.sandbox.faults import Faults
app = create_app(CwState.from_seed(7, int(sys.argv[2])), Faults(latency_ms=int(sys.argv[3])))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def force_sync_latencies(settings: Settings, bootstrap: str, postgres: str, cw_port: int, codec: Codec,
                         ids: list[int]) -> list[float]:
    """Runs the ingest service (scheduler not due: the cycles just ran) and times
    FORCE_SYNC commands, one at a time, from produce to the event on cw.invoices.v1."""
    service_settings = settings.model_copy(update={
        "kafka_bootstrap": bootstrap, "postgres_url": postgres, "session_timeout_ms": 3000,
        "cw_url": identity.cw_base("127.0.0.1", cw_port), "cw_company": identity.CW_COMPANY,
        "cw_public_key": identity.CW_PUBLIC_KEY, "cw_private_key": identity.CW_PRIVATE_KEY,
        "cw_client_id": identity.CW_CLIENT_ID})
    stop = threading.Event()
    service = threading.Thread(target=ingest_app.work, args=(service_settings, stop), daemon=True)
    service.start()
    arrived: dict[int, float] = {}
    reader_stop = threading.Event()

    def read() -> None:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}", "fetch.wait.max.ms": 10})
        topic = RecordKind("invoice").topic.name
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        while not reader_stop.is_set():
            for msg in consumer.consume(500, 0.05):
                if not msg.error():
                    _, event = codec.decode(msg.value())
                    if event["trigger"] == "FORCE_SYNC":
                        arrived[event["cw_id"]] = time.perf_counter()
        consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    producer = make_producer(bootstrap)
    latencies = []
    try:
        time.sleep(3)  # the service's consumer joins its group
        for cw_id in ids:
            sent = time.perf_counter()
            producer.produce(SYNC_COMMANDS.name, key=b"invoice", value=codec.encode("sync_command", {
                "command_id": str(uuid.uuid4()), "action": "FORCE_SYNC", "record_type": "invoice",
                "record_id": str(cw_id), "window_from": None, "window_to": None, "requested_by": "bench",
                "requested_at": datetime.now(timezone.utc)}))
            producer.flush(10)
            deadline = sent + 30
            while cw_id not in arrived and time.perf_counter() < deadline:
                time.sleep(0.005)
            if cw_id in arrived:
                latencies.append(arrived[cw_id] - sent)
    finally:
        stop.set()
        reader_stop.set()
        service.join(20)
        reader.join(10)
    return latencies


def main(scale: int = 10, latency_ms: int = 0) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-ingest-"))
    settings = Settings(data_dir=data_dir, kafka_port=free_port(), postgres_port=free_port())
    supervisor = Supervisor(data_dir / "logs")
    cw_port = free_port()
    sim = subprocess.Popen([sys.executable, "-c", SIM, str(cw_port), str(scale), str(latency_ms)], cwd=ROOT)
    try:
        bootstrap, postgres = start_embedded_parts(supervisor, settings)
        wait_http(f"http://127.0.0.1:{cw_port}/healthz")

        codec = Codec.from_directory()
        producer = make_producer(bootstrap)
        calls = []
        recorder = ExchangeRecorder("connectwise", "ingest", codec, producer)
        publish = recorder.publish
        recorder.publish = lambda record: (calls.append(record["status"]), publish(record))
        client = CwClient(identity.cw_base("127.0.0.1", cw_port), identity.CW_COMPANY, identity.CW_PUBLIC_KEY,
                          identity.CW_PRIVATE_KEY, identity.CW_CLIENT_ID, recorder=recorder)
        pipeline = Pipeline(client, Store(Database(postgres)), Emitter(producer, codec))

        started = time.perf_counter()
        results = [run_cycle(pipeline, rtype) for rtype in ("invoice", "credit_note")]
        seconds = time.perf_counter() - started
        emitted = sum(r.emitted for r in results)
        first_calls = len(calls)

        started = time.perf_counter()
        again = [run_cycle(pipeline, rtype) for rtype in ("invoice", "credit_note")]
        idle_seconds = time.perf_counter() - started

        latencies = force_sync_latencies(settings, bootstrap, postgres, cw_port, codec, results[0].emitted_ids[:20])

        print(f"ConnectWise latency added:     {latency_ms} ms per call")
        print(f"records in ConnectWise:        {sum(r.seen for r in results)}")
        print(f"events emitted (first cycle):  {emitted} in {seconds:.2f} s")
        print(f"events per second:             {emitted / seconds:.0f}")
        print(f"ConnectWise calls:             {first_calls} ({first_calls / max(emitted, 1):.4f} per record)")
        print(f"unchanged cycle:               {sum(r.emitted for r in again)} emitted in {idle_seconds:.2f} s")
        p50, p95 = statistics.quantiles(latencies, n=20)[9], statistics.quantiles(latencies, n=20)[18]
        print(f"force-sync, command to event:  p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
              f"({len(latencies)} commands through the running service)")
        pipeline.store.close()
        client.close()
    finally:
        sim.terminate()
        sim.wait(10)
        supervisor.stop_all()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
