"""Starting `connectzero up` as a real subprocess on free ports, for end-to-end tests."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import free_port

# The broker holds a new consumer group's first join for about half its session timeout:
# librdkafka's default of 45 s made every test reader wait some 23 s for its partitions.
QUICK_JOIN = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}

PORT_SETTINGS = ("kafka_port", "postgres_port", "smtp_port", "admin_port", "ingest_port", "mapper_port", "writer_port",
                 "matcher_port", "audit_port", "alerts_port", "receivers_port", "xero_status_port", "sandbox_cw_port",
                 "sandbox_xero_port")


def stack_env(data_dir: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({f"CZ_{name.upper()}": str(free_port()) for name in PORT_SETTINGS})
    env.update({"CZ_DATA_DIR": str(data_dir), "CZ_SESSION_TIMEOUT_MS": "6000", "CZ_SANDBOX_MUTATE_SECONDS": "0",
                "CZ_RESTART_BACKOFF_MAX": "2"})
    env.update({f"CZ_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Stack:
    def __init__(self, data_dir: Path, **extra):
        self.data_dir = data_dir
        self.env = stack_env(data_dir, **extra)
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self, timeout: float = 120) -> dict:
        log = open(self.data_dir / "up.out", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        stack_file = self.data_dir / "stack.json"
        deadline = time.monotonic() + timeout
        while not stack_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"connectzero up exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack not up after {timeout}s:\n{self.output()}")
            time.sleep(0.25)
        self.info = json.loads(stack_file.read_text())
        return self.info

    def output(self) -> str:
        return (self.data_dir / "up.out").read_text(errors="replace")[-5000:]

    def admin(self) -> httpx.Client:
        return self.admin_for(self.info)

    @staticmethod
    def admin_for(info: dict) -> httpx.Client:
        return httpx.Client(base_url=info["admin"]["url"], timeout=30,
                            headers={"Authorization": f"Bearer {info['admin']['token']}"})

    def stop(self, timeout: float = 60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise
        return self.proc.returncode if self.proc else 0


def wait_for(predicate, timeout: float = 40.0, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
