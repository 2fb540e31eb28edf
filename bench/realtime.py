"""Real time on the whole stack (`connectzero up` with the sandbox), the schedule six hours away:

1. Edit to Xero: invoices edited in the ConnectWise simulator one after another (a second
   apart); each latency runs from the edit to the writer's result for that invoice (Xero
   accepted the update). Prints p50, p95 and the slowest; the issue asks p95 under 5 s.
2. A burst of callbacks: invoices edited as fast as the simulator takes them, one callback
   each; prints the ConnectWise calls ingest made for them (its cz_api_calls_total) and in
   how many rounds it fetched them. The issue asks at most 1 call per 25 callbacks.

    python -m bench.realtime [edits=50] [burst=500]
"""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import httpx
from confluent_kafka import Consumer
from prometheus_client.parser import text_string_to_metric_families

from services.common.codec import Codec
from services.common.topics import XERO_WRITE_RESULTS

PORTS = ("kafka_port", "postgres_port", "smtp_port", "admin_port", "ingest_port", "mapper_port", "writer_port",
         "matcher_port", "audit_port", "alerts_port", "receivers_port", "xero_status_port", "sandbox_cw_port",
         "sandbox_xero_port")
SCALE = 2  # about 600 invoices


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stack(data_dir: Path) -> tuple[subprocess.Popen, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    env.update({f"CZ_{p.upper()}": str(free_port()) for p in PORTS})
    env.update({"CZ_DATA_DIR": str(data_dir), "CZ_SANDBOX_SCALE": str(SCALE), "CZ_SANDBOX_MUTATE_SECONDS": "0"})
    proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not (data_dir / "stack.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the stack did not come up; see {data_dir}/logs")
        time.sleep(0.2)
    return proc, json.loads((data_dir / "stack.json").read_text())


def connectwise(info: dict) -> httpx.Client:
    cw = info["connectwise"]
    basic = base64.b64encode(f"{cw['company']}+{cw['public_key']}:{cw['private_key']}".encode()).decode()
    return httpx.Client(base_url=cw["url"], timeout=30, headers={"Authorization": f"Basic {basic}",
                                                                 "clientId": cw["client_id"]})


def invoice_sync(admin: httpx.Client) -> dict:
    return next(s for s in admin.get("/api/sync").json() if s["record_type"] == "invoice")


def wait_settled(admin: httpx.Client) -> None:
    """Until the first cycles' invoices are all written (nothing pending or mapped for 5 s)."""
    quiet_since = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        counts = invoice_sync(admin)["records_by_status"]
        busy = counts.get("pending", 0) + counts.get("mapped", 0)
        if counts and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 5:
                return
        else:
            quiet_since = None
        time.sleep(1)
    raise SystemExit("the backfill did not settle in 10 minutes")


class Results:
    """Write results as they come: (cw_id -> [(outcome, written_at)])."""

    def __init__(self, bootstrap: str):
        self.codec = Codec.from_directory()
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                                  "auto.offset.reset": "latest", "enable.auto.commit": False,
                                  "fetch.wait.max.ms": 20})
        self.seen: dict[int, list[tuple[str, datetime]]] = {}
        self.assigned = threading.Event()
        self.stop = threading.Event()
        self.consumer.subscribe([XERO_WRITE_RESULTS.name], on_assign=lambda c, p: self.assigned.set())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.assigned.wait(30)

    def _run(self) -> None:
        while not self.stop.is_set():
            for msg in self.consumer.consume(500, 0.1):
                if not msg.error():
                    _, r = self.codec.decode(msg.value())
                    if r["record_type"] == "invoice":
                        self.seen.setdefault(r["cw_id"], []).append((r["outcome"], r["written_at"]))

    def updated_after(self, cw_id: int, since: datetime) -> datetime | None:
        return next((at for outcome, at in self.seen.get(cw_id, []) if outcome == "UPDATED" and at >= since), None)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.consumer.close()


def without_money(cw: httpx.Client, invoice_ids: list[int]) -> list[int]:
    """Those with no payment or credit applied: Xero lets an approved invoice be edited only then."""
    kept = []
    for start in range(0, len(invoice_ids), 200):
        chunk = ", ".join(str(i) for i in invoice_ids[start:start + 200])
        for invoice in cw.get("/finance/invoices", params={"conditions": f"id in ({chunk})", "pageSize": 1000}).json():
            if not Decimal(str(invoice.get("payments") or 0)) and not Decimal(str(invoice.get("credits") or 0)):
                kept.append(int(invoice["id"]))
    return sorted(kept)


def first_products(cw: httpx.Client, invoice_ids: list[int]) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for start in range(0, len(invoice_ids), 200):
        chunk = ", ".join(str(i) for i in invoice_ids[start:start + 200])
        for product in cw.get("/procurement/products", params={"conditions": f"invoice/id in ({chunk})",
                                                               "pageSize": 1000}).json():
            found.setdefault(product["invoice"]["id"], product)
    return found


def bump(cw: httpx.Client, product: dict) -> None:
    quantity = float(Decimal(str(product["quantity"])) + 1)
    response = cw.patch(f"/procurement/products/{product['id']}", json=[
        {"op": "replace", "path": "quantity", "value": quantity}])
    response.raise_for_status()
    product["quantity"] = quantity


def ingest_metric(info: dict, name: str, **labels) -> float:
    text = httpx.get(info["services"]["ingest"].replace("/healthz", "/metrics"), timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def edit_latencies(cw, results: Results, products: dict[int, dict], gap: float = 1.0) -> list[float]:
    started: dict[int, datetime] = {}
    for cw_id, product in products.items():
        started[cw_id] = datetime.now(timezone.utc)
        bump(cw, product)
        time.sleep(gap)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(results.updated_after(i, t) is None for i, t in started.items()):
        time.sleep(0.2)
    missing = [i for i, t in started.items() if results.updated_after(i, t) is None]
    if missing:
        print(f"  {len(missing)} edits not in Xero within a minute: "
              f"{ {i: results.seen.get(i) for i in missing[:5]} }")
    return sorted((results.updated_after(i, t) - t).total_seconds() for i, t in started.items() if i not in missing)


def burst(cw, info: dict, products: dict[int, dict], log: Path) -> None:
    calls = ingest_metric(info, "cz_api_calls_total", api="connectwise")
    fetched = ingest_metric(info, "cz_ingest_callback_hints_total", outcome="fetched")
    log_at = log.stat().st_size
    t0 = time.monotonic()
    for product in products.values():
        bump(cw, product)
    edited = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while ingest_metric(info, "cz_ingest_callback_hints_total", outcome="fetched") - fetched < len(products):
        if time.monotonic() > deadline:
            print("  not every callback was fetched within two minutes")
            break
        time.sleep(0.5)
    spent = ingest_metric(info, "cz_api_calls_total", api="connectwise") - calls
    with log.open() as fh:
        fh.seek(log_at)
        rounds = [int(m.group(1)) for m in re.finditer(r"callbacks: (\d+) invoice records fetched", fh.read())]
    print(f"burst of {len(products)} callbacks (edits made in {edited:.1f} s): {spent:.0f} ConnectWise calls "
          f"(budget {len(products) / 25:.0f}), fetched in {len(rounds)} rounds of {rounds}")


def main(edits: int = 50, burst_size: int = 500) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-rt-"))
    data_dir.chmod(0o755)
    proc, info = start_stack(data_dir)
    try:
        admin = httpx.Client(base_url=info["admin"]["url"], timeout=30,
                             headers={"Authorization": f"Bearer {info['admin']['token']}"})
        wait_settled(admin)
        cw = connectwise(info)
        rows = admin.get("/api/records", params={"record_type": "invoice", "limit": 1000}).json()["items"]
        open_ones = without_money(cw, [int(r["cw_id"]) for r in rows
                                       if r["status"] == "synced" and r["xero_status"] == "AUTHORISED"])
        others = sorted(int(r["cw_id"]) for r in rows if int(r["cw_id"]) not in set(open_ones[:edits]))
        products = first_products(cw, open_ones[:edits] + others)
        cycle = invoice_sync(admin)["last_cycle_started"]
        results = Results(info["kafka"]["bootstrap"])
        try:
            latencies = edit_latencies(cw, results, {i: products[i] for i in open_ones[:edits] if i in products})
        finally:
            results.close()
        if latencies:
            p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
            print(f"edit to Xero over {len(latencies)} edits: p50 {statistics.median(latencies):.2f} s, "
                  f"p95 {p95:.2f} s, slowest {latencies[-1]:.2f} s (no invoice cycle ran: "
                  f"{invoice_sync(admin)['last_cycle_started'] == cycle})")
        pool = [i for i in others + open_ones[edits:] if i in products]
        if len(pool) < burst_size:
            print(f"  only {len(pool)} invoices to edit for the burst")
        burst(cw, info, {i: products[i] for i in pool[:burst_size]}, data_dir / "logs" / "ingest.log")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
