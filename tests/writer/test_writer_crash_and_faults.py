"""The writer killed mid-batch, and a backfill through 5xx and a 429 storm: every record in Xero exactly once."""
from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from decimal import Decimal

from services.common.echo import xero_reference
from services.common.record_kinds import RecordKind
from services.mapping.translate import natural_key

from tests.writer.harness import WriterProcess, produce, wait_until, write_request
from tests.writer.test_writer_e2e import query, wait_results, writer_stack
from tests.integrations.xero.sim import invoice_body, invoices_by_number


def slow_answers(seconds: float):
    """Holds each write's answer after Xero has acted on it: a crash then leaves the write
    done in Xero but unknown to the writer, the case the ledger look-up exists for."""
    def wrap(app):
        async def wrapped(scope, receive, send):
            if scope["type"] != "http" or scope["method"] not in ("PUT", "POST") or "/api.xro/" not in scope["path"]:
                return await app(scope, receive, send)

            async def held_send(message):
                if message["type"] == "http.response.start":
                    await asyncio.sleep(seconds)
                await send(message)
            return await app(scope, receive, held_send)
        return wrapped
    return wrap


def ours(sim, prefix):
    return {n: v for n, v in invoices_by_number(sim, "adelaide").items() if n and n.startswith(prefix)}


def test_writer_killed_mid_batch_and_restarted_writes_each_record_once(kafka_bootstrap, fresh_database, codec, tmp_path):
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path, wrap=slow_answers(1.0)) as s:
        org = s.orgs["adelaide"]
        requests = [write_request(org, 5000 + i, invoice_body(s.sim, "adelaide", f"K-{i}", f"{10 + i}.00"))
                    for i in range(300)]
        produce(s.bootstrap, s.codec, requests)
        writer = s.writer
        for kill in range(2):
            seen = len(ours(s.sim, "K-"))
            wait_until(lambda: len(ours(s.sim, "K-")) > seen, 60, every=0.02, what="a batch to land in Xero")
            writer.kill()  # SIGKILL: Xero has the batch, the writer never heard back
            pending = query(s.db, "select count(*) from xero_ledger where pending_request_id is not null")[0][0]
            assert pending > 0, "the kill should land while a write is in flight"
            # Xero forgets idempotency keys after a while: only the ledger look-up can prevent duplicates now.
            s.sim.control("clock", advance_seconds=16 * 60)
            writer = WriterProcess(s.env, s.tmp / "writer.log").start()
            s.writer = writer
        cw_ids = {r["cw_id"] for r in requests}
        results = wait_results(s, cw_ids, timeout=120)
        wait_until(lambda: len(ours(s.sim, "K-")) == 300, 30, what="all 300 invoices")
        counts = Counter({n: len(v) for n, v in ours(s.sim, "K-").items()})
        assert set(counts.values()) == {1} and len(counts) == 300  # exactly once each
        outcomes = Counter(r["outcome"] for v in results.values() for r in v)
        assert not outcomes.keys() - {"CREATED", "UNCHANGED"}, outcomes  # never rejected as a duplicate
        assert query(s.db, "select count(*) from xero_ledger where pending_request_id is not null")[0][0] == 0
        assert query(s.db, "select count(*) from sync_records where status='synced'")[0][0] == 300
        log = (s.tmp / "writer.log").read_text()
        found = sum(int(n) for n in re.findall(r"settled pending writes of \S+: (\d+) found in Xero", log))
        assert found >= 1  # writes Xero had done when the writer died were found by look-up, not written again


def test_backfill_through_5xx_and_a_429_storm_has_no_duplicates_and_no_loss(kafka_bootstrap, fresh_database, codec, tmp_path):
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path) as s:
        s.sim.control("faults", error_rate=0.2, storm_429=12, retry_after_seconds=1, drop_connection_rate=0.03)
        requests = []
        for i in range(2000):
            short = ("adelaide", "sydney", "holdings")[i % 3]
            requests.append(write_request(s.orgs[short], 100000 + i, invoice_body(s.sim, short, f"B-{i}", "99.95")))
        started = time.monotonic()
        produce(s.bootstrap, s.codec, requests)
        cw_ids = {r["cw_id"] for r in requests}
        wait_until(lambda: sum(len(v) for v in invoices_by_number(s.sim, "adelaide").values()) > 0, 60,
                   what="the first invoice")
        print(f"first invoice in Xero after {time.monotonic() - started:.1f}s")
        results = wait_results(s, cw_ids, timeout=180)
        print(f"all 2000 results after {time.monotonic() - started:.1f}s")
        outcomes = Counter(r["outcome"] for v in results.values() for r in v)
        failures = [r["errors"] for v in results.values() for r in v if r["outcome"] != "CREATED"][:3]
        assert outcomes == {"CREATED": 2000}, (outcomes, failures)
        total = 0
        for short in ("adelaide", "sydney", "holdings"):
            numbers = {n: len(v) for n, v in invoices_by_number(s.sim, short).items() if n and n.startswith("B-")}
            assert set(numbers.values()) == {1}
            assert set(numbers) == {f"B-{i}" for i in range(2000) if ("adelaide", "sydney", "holdings")[i % 3] == short}
            total += len(numbers)
        assert total == 2000
        state = s.sim.control("faults")  # the storm was used up, so 429s were really met
        assert state["faults"]["storm_429"] == 0
        calls = query(s.db, "select sum(calls) from api_usage")[0][0]
        print(f"Xero calls for 2000 invoices through faults: {calls}")


def test_writer_killed_mid_batch_of_payments_writes_each_payment_once(kafka_bootstrap, fresh_database, codec, tmp_path):
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path, wrap=slow_answers(1.0)) as s:
        org = s.orgs["adelaide"]
        invoices = [write_request(org, 7000 + i, invoice_body(s.sim, "adelaide", f"PK-{i}", "100.00", "AUTHORISED"))
                    for i in range(100)]
        produce(s.bootstrap, s.codec, invoices)
        written = {cw_id: rs[-1]["xero_id"] for cw_id, rs in wait_results(s, {r["cw_id"] for r in invoices},
                                                                           timeout=120).items()}
        payments = []
        for n in range(300):  # three payments of 10.00 on each invoice of 110.00
            invoice = 7000 + n % 100
            reference = xero_reference("payment", 80000 + n, f"ConnectWise payment {80000 + n}")
            body = {"Invoice": {"InvoiceID": written[invoice]}, "Account": {"Code": "090"}, "Date": "2026-11-20",
                    "Amount": "10.00", "Reference": reference}
            payments.append({**write_request(org, 80000 + n, body, endpoint="Payments", record_type="payment"),
                             "natural_key": reference})
        produce(s.bootstrap, s.codec, payments)

        def ours():
            with s.sim.state.lock:
                return Counter(p["Reference"] for p in s.sim.org("adelaide").payments.values()
                               if p["Status"] != "DELETED" and "[cz:payment:8" in p["Reference"])

        writer = s.writer
        for _ in range(2):
            seen = sum(ours().values())
            wait_until(lambda: sum(ours().values()) > seen, 60, every=0.02, what="a batch of payments in Xero")
            writer.kill()  # Xero has the payments, the writer never heard back
            assert query(s.db, "select count(*) from xero_ledger where pending_request_id is not null")[0][0] > 0
            s.sim.control("clock", advance_seconds=16 * 60)  # past Xero's memory of idempotency keys
            writer = WriterProcess(s.env, s.tmp / "writer.log").start()
            s.writer = writer
        wait_results(s, {p["cw_id"] for p in payments}, timeout=120)
        wait_until(lambda: sum(ours().values()) == 300, 30, what="all 300 payments")
        assert set(ours().values()) == {1}  # exactly once each
        with s.sim.state.lock:
            due = {s.sim.org("adelaide").invoices[x]["AmountDue"] for x in written.values()}
        assert due == {Decimal("80.00")}
        assert query(s.db, "select count(*) from sync_records where record_type = 'payment' and status = 'synced'"
                     )[0][0] == 300
        log = (s.tmp / "writer.log").read_text()
        assert sum(int(n) for n in re.findall(r"settled pending money writes of \S+: (\d+) done in Xero", log)) >= 1


def test_writer_killed_mid_batch_of_bills_finds_each_by_contact_number_and_date(kafka_bootstrap, fresh_database, codec,
                                                                                tmp_path):
    """Xero does not keep bill numbers unique: four suppliers here bill with the same numbers, two
    of them new, which Xero creates from the first bill naming them. A bill whose answer a crash
    lost is found by its contact (its id, or its name for a new one), number and date, never
    taken for another supplier's bill, and never written twice."""
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path, wrap=slow_answers(1.0)) as s:
        org = s.orgs["adelaide"]
        suppliers = [{"ContactID": c} for c in sorted(s.sim.org("adelaide").contacts)[:2]]
        suppliers += [{"Name": f"New supplier {n}", "ContactNumber": f"NEW-{n}"} for n in (1, 2)]
        requests = []
        for i in range(200):
            contact, number = suppliers[i % 4], f"BL-{i // 4}"
            body = {**invoice_body(s.sim, "adelaide", number, f"{20 + i}.00"), "Type": "ACCPAY",
                    "Contact": contact, "Status": "DRAFT"}
            body["LineItems"][0].update(AccountCode="310", TaxType="INPUT")
            key = natural_key(RecordKind.PROCUREMENT, number, contact, body["Date"])  # as the mapper keys it
            requests.append({**write_request(org, 9000 + i, body, record_type="procurement"), "natural_key": str(key)})
        produce(s.bootstrap, s.codec, requests)

        def bills():
            with s.sim.state.lock:
                return Counter((b["Contact"]["ContactID"], b["InvoiceNumber"])
                               for b in s.sim.org("adelaide").invoices.values()
                               if b["Type"] == "ACCPAY" and str(b.get("InvoiceNumber", "")).startswith("BL-")
                               and b["Status"] != "DELETED")

        writer = s.writer
        for _ in range(2):
            seen = sum(bills().values())
            wait_until(lambda: sum(bills().values()) > seen, 60, every=0.02, what="a batch of bills in Xero")
            writer.kill()
            assert query(s.db, "select count(*) from xero_ledger where pending_request_id is not null")[0][0] > 0
            s.sim.control("clock", advance_seconds=16 * 60)  # past Xero's memory of idempotency keys
            writer = WriterProcess(s.env, s.tmp / "writer.log").start()
            s.writer = writer
        wait_results(s, {r["cw_id"] for r in requests}, timeout=180)
        wait_until(lambda: sum(bills().values()) == 200, 30, what="all 200 bills")
        assert set(bills().values()) == {1} and len(bills()) == 200  # one per supplier and number
        log = (s.tmp / "writer.log").read_text()
        assert sum(int(n) for n in re.findall(r"settled pending writes of \S+: (\d+) found in Xero", log)) >= 1
