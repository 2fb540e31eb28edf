"""The Faust stream base under the one error policy: an outage is waited out and the message
handled once; a message that keeps failing is tried a few times, then parked; the stream goes on."""
import pytest
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from services.common.consumer_policy import ATTEMPTS

from services.common.kafka import make_producer
from services.common.topics import SYNC_COMMANDS

from ..stackutil import wait_for
from .test_kafka import read_all

pytestmark = pytest.mark.integration


def command(command_id: str, requested_by: str = "test") -> dict:
    return {"command_id": command_id, "action": "FORCE_SYNC", "record_type": "invoice", "record_id": "1",
            "window_from": None, "window_to": None, "requested_by": requested_by,
            "requested_at": datetime.now(timezone.utc)}


def test_faust_agent_dead_letters_poison_and_keeps_processing(kafka_bootstrap, codec, tmp_path):
    run = uuid.uuid4().hex[:8]
    out = tmp_path / "handled.txt"
    out.touch()
    env = {**os.environ, "CZ_KAFKA_BOOTSTRAP": kafka_bootstrap, "CZ_DATA_DIR": str(tmp_path),
           "CZ_SESSION_TIMEOUT_MS": "6000", "PROBE_OUT": str(out)}
    worker = subprocess.Popen([sys.executable, "-m", "tests.common.faust_probe"], env=env,
                              stdout=open(tmp_path / "worker.log", "wb"), stderr=subprocess.STDOUT)
    try:
        producer = make_producer(kafka_bootstrap)
        producer.produce(SYNC_COMMANDS.name, key=f"garbage-{run}".encode(), value=b"\x00\x00")
        producer.produce(SYNC_COMMANDS.name, key=f"explode-{run}".encode(), value=codec.encode("sync_command", command(f"x-{run}", "explode")))
        for kind in ("outage", "flaky"):
            producer.produce(SYNC_COMMANDS.name, key=f"{kind}-{run}".encode(),
                             value=codec.encode("sync_command", command(f"{kind}-{run}", kind)))
        producer.produce(SYNC_COMMANDS.name, key=f"good-{run}".encode(), value=codec.encode("sync_command", command(f"ok-{run}")))
        producer.flush(10)
        wait_for(lambda: f"ok-{run}" in out.read_text(), 90, what="good command handled after the poison ones")
        handled = out.read_text().split()
        assert f"x-{run}" not in handled
        assert handled.count(f"outage-{run}") == 1 and handled.count(f"flaky-{run}") == 1
        tries = Counter(Path(f"{out}.attempts").read_text().split())
        assert (tries[f"x-{run}"], tries[f"outage-{run}"], tries[f"flaky-{run}"]) == (ATTEMPTS, 3, 2)
        parked = {m.key().decode(): dict(m.headers()) for m in read_all(kafka_bootstrap, SYNC_COMMANDS.dlq, 100, timeout=8)
                  if m.key().decode().endswith(run)}
        assert set(parked) == {f"garbage-{run}", f"explode-{run}"}
        assert b"too short" in parked[f"garbage-{run}"]["dlq.error"]
        assert b"cannot handle command" in parked[f"explode-{run}"]["dlq.error"]
        assert parked[f"explode-{run}"]["dlq.service"] == b"probe"
        assert worker.poll() is None, "the worker must survive poison messages"
        # Faust's own logging is replaced: JSON lines that name the message.
        parked_lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()
                        if line.startswith("{") and "parking poison message" in line and run in line]
        assert parked_lines and {"topic", "partition", "offset", "key", "service"} <= set(parked_lines[0])
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
