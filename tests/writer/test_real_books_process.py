"""Adoption and a shadow run through the writer as a process: write requests (with ConnectWise's
total) over the real broker, the ledger in real Postgres, the Xero simulator over HTTP."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import httpx
import pytest

from services.common.database import Database
from services.mapping.sync_settings import put_settings
from tests.integrations.xero.sim import invoice_body, invoices_by_number
from tests.writer.harness import produce, wait_until, write_request
from tests.writer.test_writer_e2e import query, stack, wait_results  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def history(s, *invoices: dict) -> dict[str, str]:
    resp = httpx.post(f"{s.sim.root}/_sandbox/xero/history", json={"organisation": "adelaide", "invoices": invoices})
    resp.raise_for_status()
    return {e["InvoiceNumber"]: e["InvoiceID"] for e in resp.json()["Invoices"]}


def requests_for(s, numbers: list[str], first_id: int) -> list[dict]:
    return [{**write_request(s.orgs["adelaide"], first_id + n, invoice_body(s.sim, "adelaide", number,
                                                                            status="AUTHORISED")),
             "total": Decimal("110.00")} for n, number in enumerate(numbers)]


def test_the_writer_adopts_through_the_broker_and_a_shadow_run_writes_nothing(stack):  # noqa: F811
    s = stack
    numbers = [f"P-{n:02d}" for n in range(60)]
    held = history(s, *[invoice_body(s.sim, "adelaide", n, status="AUTHORISED") for n in numbers[:40]],
                   *[invoice_body(s.sim, "adelaide", n, amount="90.00", status="AUTHORISED") for n in numbers[40:50]])
    in_xero = len(s.sim.org("adelaide").invoices)

    # A shadow run first: decided, reported, nothing written.
    with Database(s.db, max_size=1).unit_of_work() as conn:
        put_settings(conn, s.orgs["adelaide"], {"mode": "shadow"}, "test")
    produce(s.bootstrap, s.codec, requests_for(s, numbers, 1000))

    wait_until(lambda: query(s.db, "select count(*) from sync_records where status = 'shadow'")[0][0] == 60, 60,
               what="60 records decided in shadow")
    report = Counter(r[0] for r in query(s.db, "select outcome from shadow_outcomes"))
    assert report == {"adopt": 40, "exception": 10, "create": 10}
    assert len(s.sim.org("adelaide").invoices) == in_xero

    # Live: the same records again.
    with Database(s.db, max_size=1).unit_of_work() as conn:
        put_settings(conn, s.orgs["adelaide"], {"mode": "live"}, "test")
    produce(s.bootstrap, s.codec, requests_for(s, numbers, 1000))
    results = wait_results(s, set(range(1000, 1060)))
    outcomes = Counter(v[0]["outcome"] for v in results.values())
    assert outcomes == {"UNCHANGED": 40, "REJECTED": 10, "CREATED": 10}
    assert {results[1000 + n][0]["xero_id"] for n in range(40)} == {held[n] for n in numbers[:40]}
    assert all(len(v) == 1 for n, v in invoices_by_number(s.sim, "adelaide").items() if n in numbers)
    assert len(s.sim.org("adelaide").invoices) == in_xero + 10
    s.reader.poll(1)
    mismatches = [e for e in s.reader.exceptions if e["kind"] == "adoption_mismatch"]
    assert len(mismatches) == 10 and all(e["details"]["differences"] == "total" for e in mismatches)
