"""The audit log at volume: N entries (default 1,000,000, spread over 90 days,
about 0.6 KB of bodies each) into chdb in a temporary directory, then the time
of filtered searches, a deep page, one entry, and CSV exports of a filter.

    python -m bench.audit [N]
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.audit.entries import COLUMNS, entry_from_message
from services.audit.search import parse_query
from services.audit.store import ChdbStore

RECORD_TYPES = ("invoice", "credit_note", "procurement", "payment", "xero_payment")
ORGS = ("adelaide", "sydney", "holdings")
CUSTOMERS = [f"{name} {suffix}" for name in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne",
                                               "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Vandelay")
             for suffix in ("Pty Ltd", "Group", "Holdings", "Services", "Partners")]
STATUSES = ["200"] * 85 + ["201"] * 4 + ["429"] * 5 + ["500"] * 2 + ["503"] * 1 + ["FAILED"] * 1 + ["EXCEPTION"] * 2
END = datetime(2026, 11, 25, tzinfo=timezone.utc)


def make_rows(n: int, start: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        status = rng.choice(STATUSES)
        record_type = rng.choice(RECORD_TYPES)
        number = 100000 + i
        body = json.dumps({"Invoices": [{"InvoiceNumber": f"INV-{number}", "Contact": {"Name": rng.choice(CUSTOMERS)},
                                         "LineItems": [{"Description": "Managed services", "Quantity": "1.0000",
                                                        "UnitAmount": f"{rng.randint(100, 9999)}.00",
                                                        "AccountCode": "200", "TaxType": "OUTPUT"}] * 2}]})
        row = {c: "" for c in COLUMNS}
        row.update(
            entry_id=f"{i:012d}-bench", at=END - timedelta(seconds=rng.randint(0, 90 * 86400)),
            kind="exchange" if status[0].isdigit() else "event", topic="api.exchanges.v1", api="xero",
            service="writer", organisation_id=rng.choice(ORGS), record_type=record_type, record_id=str(number),
            customer=rng.choice(CUSTOMERS), status=status, method="POST",
            url="https://api.xero.com/api.xro/2.0/Invoices?summarizeErrors=false", duration_ms=rng.uniform(20, 900),
            summary=f"POST /Invoices -> {status}", request_headers='{"Authorization": "***"}', request_body=body,
            response_headers='{"X-MinLimit-Remaining": "42"}', response_body='{"Status": "OK"}',
        )
        rows.append(row)
    return rows


def timed(fn, repeat: int = 5) -> tuple[float, float, object]:
    """(first run, median of the rest, result): ClickHouse caches which granules
    matched a filter, so a repeat of the same search is faster than the first."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:]), result


def export(store: ChdbStore, params: dict) -> tuple[int, int]:
    rows = size = 0
    for chunk in store.export_csv(parse_query(params)):
        size += len(chunk)
        rows += chunk.count(b"\n")  # bodies are JSON without raw newlines
    return rows - 1, size


def main(n: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="cz-bench-audit-") as tmp:
        store = ChdbStore(Path(tmp) / "chdb")
        store.open(365)

        # The consumer's shape: 500-row batches (sampled), then bulk fill.
        sample = make_rows(50_000, 0, rng)
        t0 = time.perf_counter()
        for k in range(0, len(sample), 500):
            store.insert(sample[k:k + 500])
        consumer_rate = len(sample) / (time.perf_counter() - t0)
        inserted, insert_seconds, batch = len(sample), 0.0, 50_000
        while inserted < n:
            rows = make_rows(min(batch, n - inserted), inserted, rng)
            t0 = time.perf_counter()
            store.insert(rows)
            insert_seconds += time.perf_counter() - t0
            inserted += len(rows)
        bulk_rate = (inserted - len(sample)) / insert_seconds if insert_seconds else 0.0
        count = store.count()

        # What the consumer spends per message before the insert (decode not included): entry building and redaction.
        record = {"exchange_id": "x", "api": "xero", "service": "writer", "organisation_id": "sydney",
                  "record_type": "invoice", "record_id": "1", "customer": "Acme Pty Ltd", "method": "POST",
                  "url": "https://api.xero.com/api.xro/2.0/Invoices", "status": 200, "duration_ms": 10.0,
                  "request_headers": {"Authorization": "Bearer abc"}, "request_body": sample[0]["request_body"],
                  "response_headers": {}, "response_body": '{"Status": "OK"}', "error": None, "started_at": END}
        t0 = time.perf_counter()
        for _ in range(20_000):
            entry_from_message("api.exchanges.v1", "api_exchange", record, b"", None)
        build_rate = 20_000 / (time.perf_counter() - t0)

        searches = {
            "first page, no filter": {},
            "customer + status 4xx": {"customer": "globex holdings", "status": "4xx"},
            "record type + organisation + one week": {"record_type": "credit_note", "organisation": "sydney",
                                                      "from": "2026-11-10", "to": "2026-11-16"},
            "q = one invoice number (full text)": {"q": f"INV-{100000 + n // 2}"},
            "q + customer + from (combined)": {"q": "Managed", "customer": "acme", "from": "2026-11-20"},
            "status FAILED,EXCEPTION": {"status": "FAILED,EXCEPTION"},
        }
        print(f"audit store: {count:,} entries in chdb")
        print(f"insert, 500-row batches (the consumer's): {consumer_rate:,.0f} entries/s")
        print(f"insert, 50,000-row batches:               {bulk_rate:,.0f} entries/s")
        print(f"entry building + redaction per message:   {build_rate:,.0f} entries/s (one core)")
        for name, params in searches.items():
            first, again, page = timed(lambda: store.page(parse_query({**params, "limit": "100"})))
            print(f"search {name:<40} {first * 1000:8.1f} ms first, {again * 1000:6.1f} ms repeated"
                  f"  ({page['count']} on the page)")
        cursor = None
        for _ in range(50):
            cursor = store.page(parse_query({"limit": "100", **({"cursor": cursor} if cursor else {})}))["next_cursor"]
        first, again, _ = timed(lambda: store.page(parse_query({"limit": "100", "cursor": cursor})))
        print(f"search {'page 51 by cursor':<40} {first * 1000:8.1f} ms first, {again * 1000:6.1f} ms repeated")
        entry_id = f"{n // 3:012d}-bench"
        first, again, found = timed(lambda: store.get(entry_id))
        assert found is not None
        print(f"one entry by id                                 {first * 1000:8.1f} ms first, {again * 1000:6.1f} ms repeated")
        for name, params in (("customer + 4xx", {"customer": "globex", "status": "4xx"}),
                             ("one organisation, one month", {"organisation": "adelaide", "from": "2026-10-25",
                                                              "to": "2026-11-24"})):
            t0 = time.perf_counter()
            rows, size = export(store, params)
            seconds = time.perf_counter() - t0
            print(f"CSV export {name:<36} {rows:>9,} rows {size / 1e6:8.1f} MB in {seconds:6.2f} s "
                  f"({rows / seconds:,.0f} rows/s)")
        store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
