"""Requests per second the Xero simulator serves on this machine.

Starts `python -m services.sandbox` on free ports (its own process, so the
load generator does not share a GIL with the server), raises the rate limits
so nothing is throttled, then for a bounded time measures:
  - GET /Invoices?page=N (100 invoices a page, line items included)
  - PUT /Invoices with a batch of 50 invoices
Usage: python bench/sandbox_xero.py [--seconds 5] [--clients 4]
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.sandbox_identity import ORGANISATIONS  # noqa: E402
from services.sandbox.xero.serve import sign_in  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox() -> tuple[subprocess.Popen, str]:
    cw_port, xero_port = free_port(), free_port()
    env = {**os.environ, "CZ_SANDBOX_CW_PORT": str(cw_port), "CZ_SANDBOX_XERO_PORT": str(xero_port),
           "CZ_SANDBOX_SCALE": "0", "CZ_SANDBOX_MUTATE_SECONDS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "services.sandbox"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{xero_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def invoice_batch(contact: str, account: str, start: int) -> dict:
    return {"Invoices": [{"Type": "ACCREC", "InvoiceNumber": f"BENCH-{start + i:07d}", "Status": "AUTHORISED",
                          "Contact": {"ContactID": contact}, "Date": "2026-11-20", "DueDate": "2026-12-20",
                          "LineItems": [{"Description": "Managed services", "Quantity": 2, "UnitAmount": "123.45",
                                         "AccountCode": account, "TaxType": "OUTPUT"},
                                        {"Description": "Licences", "Quantity": 10, "UnitAmount": "9.99",
                                         "AccountCode": account, "TaxType": "OUTPUT"}]} for i in range(50)]}


def run(label: str, seconds: float, clients: int, make_request) -> dict:
    counts, errors, latencies = [0] * clients, [0] * clients, [[] for _ in range(clients)]
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while time.monotonic() < stop_at:
                began = time.perf_counter()
                reply = make_request(client, index, n)
                latencies[index].append(time.perf_counter() - began)
                n += 1
                if reply.status_code == 200:
                    counts[index] += 1
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    all_latencies = sorted(x for part in latencies for x in part)
    p50 = all_latencies[len(all_latencies) // 2] if all_latencies else 0
    p95 = all_latencies[int(len(all_latencies) * 0.95)] if all_latencies else 0
    result = {"label": label, "ok": sum(counts), "errors": sum(errors), "seconds": elapsed,
              "rps": sum(counts) / elapsed, "p50_ms": p50 * 1000, "p95_ms": p95 * 1000}
    print(f"{label:<34} {result['rps']:8.1f} req/s  ok={result['ok']:<6} errors={result['errors']:<4} "
          f"p50={result['p50_ms']:.1f} ms  p95={result['p95_ms']:.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    args = parser.parse_args()
    proc, base = start_sandbox()
    try:
        big = 10**9
        httpx.post(f"{base}/_sandbox/limits", json={"per_minute": big, "per_day": big, "app_per_minute": big,
                                                    "concurrent": 1000}).raise_for_status()
        token = sign_in(base)["access_token"]
        tenant = ORGANISATIONS[0].tenant_id
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant}
        contacts = httpx.get(f"{base}/api.xro/2.0/Contacts", headers=headers).json()["Contacts"]
        contact = contacts[0]["ContactID"]
        # 1,000 invoices to page through.
        for batch in range(20):
            httpx.put(f"{base}/api.xro/2.0/Invoices", headers=headers, timeout=30,
                      json=invoice_batch(contact, "200", 9_000_000 + batch * 50)).raise_for_status()
        print(f"Xero simulator at {base}: {args.clients} clients, {args.seconds:.0f} s per measurement")
        run("GET /Invoices page (100/page)", args.seconds, args.clients,
            lambda c, i, n: c.get(f"{base}/api.xro/2.0/Invoices", headers=headers,
                                  params={"page": n % 10 + 1, "pageSize": 100}))
        run("GET /Invoices/{id}", args.seconds, args.clients,
            lambda c, i, n: c.get(f"{base}/api.xro/2.0/Invoices/BENCH-{9_000_000 + n % 1000:07d}", headers=headers))
        result = run("PUT /Invoices (50-invoice batch)", args.seconds, args.clients,
                     lambda c, i, n: c.put(f"{base}/api.xro/2.0/Invoices", headers=headers,
                                           json=invoice_batch(contact, "200", (i + 1) * 1_000_000 + n * 50)))
        print(f"{'  = invoices written per second':<34} {result['rps'] * 50:8.1f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
