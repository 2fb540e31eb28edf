"""Start-up time of `connectzero up` (seconds until every part is healthy) and the
stack's peak resident memory over a short idle-then-busy window."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

PORTS = ("kafka_port", "postgres_port", "smtp_port", "admin_port", "ingest_port", "mapper_port", "writer_port",
         "matcher_port", "audit_port", "alerts_port", "receivers_port", "xero_status_port", "sandbox_cw_port",
         "sandbox_xero_port")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_rss(root_pid: int) -> int:
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def main(watch_seconds: float = 60.0) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({f"CZ_{p.upper()}": str(free_port()) for p in PORTS})
    env["CZ_DATA_DIR"] = str(data_dir)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stack_file = data_dir / "stack.json"
    try:
        while not stack_file.exists():
            if proc.poll() is not None or time.monotonic() - started > 180:
                raise SystemExit(f"stack did not come up; see {data_dir}/logs")
            time.sleep(0.1)
        info = json.loads(stack_file.read_text())
        wall = time.monotonic() - started
        print(f"connectzero up: all parts healthy in {wall:.1f} s (supervisor's own figure {info['startup_seconds']} s)")
        admin = httpx.Client(base_url=info["admin"]["url"], headers={"Authorization": f"Bearer {info['admin']['token']}"})
        admin.post("/api/sync/invoice/run")
        admin.post("/api/sync/credit_note/run")
        peak, deadline = 0, time.monotonic() + watch_seconds
        while time.monotonic() < deadline:
            peak = max(peak, stack_rss(proc.pid))
            time.sleep(1)
        print(f"peak resident memory of the stack over {watch_seconds:.0f} s (one cycle of each record type): "
              f"{peak / 2**20:.0f} MiB across {len(psutil.Process(proc.pid).children(recursive=True)) + 1} processes")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


if __name__ == "__main__":
    main()
