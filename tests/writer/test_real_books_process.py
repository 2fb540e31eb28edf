"""Adoption and a shadow run through the writer as a process: write requests (with ConnectWise's
total) over the real broker, the ledger in real Postgres, the Xero simulator over HTTP. What Xero
holds from the previous tool and ConnectWise does not is left alone: not adopted, not touched,
not reported, not an exception."""
from __future__ import annotations

import copy
from collections import Counter
from decimal import Decimal

import httpx
import pytest

from services.common.database import Database
from services.mapping.sync_settings import put_settings
from tests.integrations.xero.sim import invoice_body, invoices_by_number
from tests.writer.harness import produce, wait_until, write_request
from tests.writer.test_writer_e2e import query, wait_results, writer_parts  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def history(s, *invoices: dict, credit_notes: tuple[dict, ...] = ()) -> dict[str, str]:
    resp = httpx.post(f"{s.sim.root}/_sandbox/xero/history",
                      json={"organisation": "adelaide", "invoices": invoices, "credit_notes": credit_notes})
    resp.raise_for_status()
    saved = resp.json()
    assert saved["saved"] == len(invoices) + len(credit_notes), saved
    return {**{e["InvoiceNumber"]: e["InvoiceID"] for e in saved["Invoices"]},
            **{e["CreditNoteNumber"]: e["CreditNoteID"] for e in saved["CreditNotes"]}}


def xero_only(s) -> tuple[list[dict], list[dict]]:
    """What the previous tool left in Xero that ConnectWise does not hold: invoices numbered next to
    ConnectWise's, of the same customer, approved or draft, and credit notes."""
    invoices = [invoice_body(s.sim, "adelaide", f"P-{n:02d}", status="AUTHORISED" if n % 2 else "DRAFT")
                for n in range(60, 70)]
    notes = [{**{k: v for k, v in invoice_body(s.sim, "adelaide", "", amount="30.00", status="AUTHORISED").items()
                 if k not in ("InvoiceNumber", "DueDate")}, "Type": "ACCRECCREDIT", "CreditNoteNumber": f"PC-{n}"}
             for n in range(2)]
    return invoices, notes


def documents(s, ids: set[str]) -> dict[str, dict]:
    """The organisation's documents with these ids, as Xero holds them now (a copy)."""
    org = s.sim.org("adelaide")
    with s.sim.state.lock:
        return copy.deepcopy({k: v for k, v in {**org.invoices, **org.credit_notes}.items() if k in ids})


def requests_for(s, numbers: list[str], first_id: int) -> list[dict]:
    return [{**write_request(s.orgs["adelaide"], first_id + n, invoice_body(s.sim, "adelaide", number,
                                                                            status="AUTHORISED")),
             "total": Decimal("110.00")} for n, number in enumerate(numbers)]


def test_the_writer_adopts_through_the_broker_and_a_shadow_run_writes_nothing(writer_parts):  # noqa: F811
    s = writer_parts
    numbers = [f"P-{n:02d}" for n in range(60)]
    only_invoices, only_notes = xero_only(s)
    held = history(s, *[invoice_body(s.sim, "adelaide", n, status="AUTHORISED") for n in numbers[:40]],
                   *[invoice_body(s.sim, "adelaide", n, amount="90.00", status="AUTHORISED") for n in numbers[40:50]],
                   *only_invoices, credit_notes=tuple(only_notes))
    only = {held[d.get("InvoiceNumber") or d["CreditNoteNumber"]] for d in only_invoices + only_notes}
    as_left = documents(s, only)
    assert len(as_left) == 12
    in_xero = len(s.sim.org("adelaide").invoices)

    # A shadow run first: decided, reported, nothing written.
    with Database(s.db, max_size=1).unit_of_work() as conn:
        put_settings(conn, s.orgs["adelaide"], {"mode": "shadow"}, "test")
    produce(s.bootstrap, s.codec, requests_for(s, numbers, 1000))

    wait_until(lambda: query(s.db, "select count(*) from sync_records where status = 'shadow'")[0][0] == 60, 60,
               what="60 records decided in shadow")
    report = Counter(r[0] for r in query(s.db, "select outcome from shadow_outcomes"))
    assert report == {"adopt": 40, "exception": 10, "create": 10}  # nothing of the Xero-only documents
    assert not query(s.db, "select * from shadow_outcomes where xero_id = any(%s)", list(only))
    assert len(s.sim.org("adelaide").invoices) == in_xero
    assert documents(s, only) == as_left

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

    # The Xero-only documents: as the previous tool left them, never linked, never raised.
    assert documents(s, only) == as_left
    assert not query(s.db, "select * from xero_ledger where xero_id = any(%s)", list(only))
    assert not query(s.db, "select * from sync_records where xero_id = any(%s)", list(only))
    assert len(s.reader.exceptions) == 10  # the mismatches alone
    assert not [e for e in s.reader.exceptions if e["details"].get("xero_id") in only]
