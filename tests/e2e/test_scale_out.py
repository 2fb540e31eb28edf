"""Scale-out on the whole stack: two instances of each consuming service in one consumer
group (ingest as an active poller with a standby), one of each SIGKILLed in the middle of
the first backfill; every document reaches Xero exactly once and none is left behind.
(Audit stays one instance: embedded chdb is one process's; a ClickHouse server lifts that.)"""
from __future__ import annotations

import os
import shutil
import signal
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from ..conftest import make_stack_dir
from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, connectwise

pytestmark = pytest.mark.stack
SCALED = ("ingest", "mapper", "writer", "matcher", "alerts")


def xero_documents(xero: XeroReader) -> Counter:
    """(organisation, endpoint, number) of every live invoice, bill and credit note in Xero."""
    seen: Counter = Counter()
    for short in [o["short"] for o in xero.organisations]:  # every organisation the stack connects
        for endpoint, number in (("Invoices", "InvoiceNumber"), ("CreditNotes", "CreditNoteNumber")):
            page = 1
            while True:
                items = xero.get(f"/{endpoint}", short, {"page": page, "pageSize": 1000})[endpoint]
                for doc in items:
                    if doc["Status"] not in ("DELETED", "VOIDED"):
                        key = (doc.get("Contact", {}).get("ContactID"), doc.get("Type"), doc.get(number))
                        seen[(short, endpoint, key)] += 1
                if len(items) < 1000:
                    break
                page += 1
    return seen


def every_record(admin) -> list[dict]:
    """Every record the stack tracks, page by page."""
    found: list[dict] = []
    while True:
        page = admin.get("/api/records", params={"limit": 1000, "offset": len(found)}).json()
        found += page["items"]
        if len(found) >= page["total"] or not page["items"]:
            return found


def kind_of(route: str, document: dict) -> str:
    if route.startswith("/procurement"):
        return "procurement"
    return "credit_note" if document["type"] == "CreditMemo" else "invoice"


def connectwise_documents(info: dict) -> set[tuple[str, str]]:
    """(kind, id) of every invoice, credit memo and purchase order in ConnectWise."""
    found: set[tuple[str, str]] = set()
    with connectwise(info) as cw:
        for route in ("/finance/invoices", "/procurement/purchaseorders"):
            page = 1
            while items := cw.get(route, params={"page": page, "pageSize": 1000}).json():
                found |= {(kind_of(route, d), str(d["id"])) for d in items}
                page += 1
    return found


def test_two_of_each_service_with_one_killed_mid_backfill_write_everything_once():
    data_dir = make_stack_dir()
    stack = Stack(data_dir, sandbox_scale=1, replicas=",".join(f"{name}=2" for name in SCALED))
    try:
        info = stack.start(timeout=240)
        assert {f"{name}-2" for name in SCALED} <= set(info["pids"])
        xero = XeroReader(info)
        with Stack.admin_for(info) as admin:
            def written() -> int:
                return admin.get("/api/records", params={"status": "synced", "limit": 1}).json()["total"]

            wait_for(lambda: written() > 20, 240, interval=0.5, what="the backfill under way")
            for name in SCALED:  # one of each pair dies without a word, mid-backfill
                os.kill(info["pids"][f"{name}-2" if SCALED.index(name) % 2 else name], signal.SIGKILL)
            killed_at, killed_wall = time.monotonic(), datetime.now(UTC)

            def settled():
                kinds = ("invoice", "credit_note", "procurement")
                documents = [r for r in every_record(admin) if r["record_type"] in kinds]
                busy = [r for r in documents if r["status"] in ("pending", "mapped")]
                return documents and not busy and documents
            documents_tracked = wait_for(settled, 240, interval=2, what="the backfill settled after the kills")
            print(f"backfill settled {time.monotonic() - killed_at:.0f}s after the kills")

            # The active poller was the one killed: polling goes on (the standby takes the lock, or the
            # supervisor's restart does) and a cycle asked for after the kills runs to its end.
            assert admin.post("/api/sync/invoice/run").status_code == 202

            def invoice_cycle_after_the_kills() -> bool:
                state = next(s for s in admin.get("/api/sync").json() if s["record_type"] == "invoice")
                finished = state["last_cycle_finished"]
                return finished is not None and datetime.fromisoformat(finished) > killed_wall
            wait_for(invoice_cycle_after_the_kills, 120, interval=1, what="an invoice cycle after the kills")
        synced = {(r["record_type"], r["cw_id"]) for r in documents_tracked if r["status"] == "synced"}
        missing = connectwise_documents(info) - {(r["record_type"], r["cw_id"]) for r in documents_tracked}
        assert not missing, sorted(missing)[:20]  # ingest lost no ConnectWise document across the kills
        documents = xero_documents(xero)
        doubled = {key: n for key, n in documents.items() if n > 1}
        assert not doubled, doubled  # nothing written twice, whoever wrote it
        assert len(synced) > 100 and sum(documents.values()) >= len(synced)  # every synced one is in Xero
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
