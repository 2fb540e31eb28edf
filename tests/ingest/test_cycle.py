"""Ingest cycles against the ConnectWise simulator, the real broker and real Postgres."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.database import Database
from services.common.kafka import make_producer
from services.common.settings import Settings
from services.common.record_kinds import RecordKind
from services.common.topics import SYNC_COMMANDS
from services.ingest import app as ingest_app
from services.ingest.cycle import Emitter, Pipeline, force_sync, replay, run_cycle
from services.ingest.store import Store
from services.common import sandbox_identity as identity
from tests.stackutil import QUICK_JOIN

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def end_offsets(bootstrap: str, topic: str) -> datetime:
    """A mark: events observed from now on. (The embedded broker's watermarks
    count batches, not records, so offsets cannot mark a position here.)"""
    time.sleep(0.01)
    return datetime.now(timezone.utc)


def read_since(bootstrap: str, codec, topic: str, since: datetime, idle: float = 1.5) -> list[dict]:
    """Every event on `topic` observed at or after `since`, decoded; reads
    the topic from the beginning until nothing arrives for `idle` seconds."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4()}", "enable.auto.commit": False})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    events, deadline, last = [], time.monotonic() + 60, time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - last < idle:
            msgs = consumer.consume(500, 0.1)
            for msg in msgs:
                if msg.error():
                    continue
                last = time.monotonic()
                _, event = codec.decode(msg.value())
                assert msg.key() == str(event["cw_id"]).encode()
                if event["observed_at"] >= since:
                    events.append(event)
    finally:
        consumer.close()
    return events


def read_dead_letters(bootstrap: str, topic: str, codec, command_id: str, timeout: float = 15) -> bytes | None:
    """The dlq.error header of the parked command with this id, if it arrives in time."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"d-{uuid.uuid4()}", "fetch.wait.max.ms": 50})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            try:
                _, record = codec.decode(msg.value())
            except ValueError:
                continue
            if record.get("command_id") == command_id:
                return dict(msg.headers() or []).get("dlq.error")
    finally:
        consumer.close()
    return None


def expected_ids(sim, record_type: str) -> set[int]:
    memo = record_type == "credit_note"
    return {i for i, inv in sim.state.c["invoices"].by_id.items() if (inv["type"] == "CreditMemo") == memo}


@pytest.fixture
def pipeline_factory(kafka_bootstrap, fresh_database, codec):
    made = []

    def make(sim) -> Pipeline:
        p = Pipeline(sim.client(), Store(Database(fresh_database)), Emitter(make_producer(kafka_bootstrap), codec))
        made.append(p)
        return p

    yield make
    for p in made:
        p.store.close()
        p.client.close()


def cursor_row(url: str, record_type: str) -> dict:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("select * from sync_cursors where source = %s", (f"cw:{record_type}",)).fetchone()


def test_first_cycle_emits_all_then_nothing_then_only_the_edit(cw_sim, pipeline_factory, kafka_bootstrap,
                                                               fresh_database, codec):
    p = pipeline_factory(cw_sim)
    topic = RecordKind("invoice").topic.name
    invoices = expected_ids(cw_sim, "invoice")

    since = end_offsets(kafka_bootstrap, topic)
    first = run_cycle(p, "invoice")
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert {e["cw_id"] for e in events} == invoices and len(events) == len(invoices) == first.emitted
    assert all(e["record_type"] == "invoice" and e["trigger"] == "SCHEDULE" for e in events)
    assert {e["invoice_type"] for e in events} >= {"Standard", "Agreement"}
    sample = next(e for e in events if e["lines"])
    source = cw_sim.state.c["invoices"].by_id[sample["cw_id"]]
    assert sample["total"] == source["total"] and isinstance(sample["total"], Decimal)
    assert len(sample["lines"]) == len(cw_sim.state.products_of[sample["cw_id"]])
    assert sample["account_manager_identifier"]  # the company's manager, looked up for routing

    newest = max(cw_sim.state.c["invoices"].by_id[i]["_info"]["lastUpdated"] for i in invoices)
    row = cursor_row(fresh_database, "invoice")
    assert row["cursor_at"] == newest and row["last_cycle_status"] == "ok"
    assert row["progress_seen"] == row["progress_total"] == len(invoices)

    since = end_offsets(kafka_bootstrap, topic)
    second = run_cycle(p, "invoice")
    assert second.emitted == 0 and read_since(kafka_bootstrap, codec, topic, since, idle=0.5) == []

    edited = sorted(invoices)[-1]
    product_id = cw_sim.state.products_of[edited][0]
    cw_sim.state.update_product(product_id, quantity=Decimal("7"))
    since = end_offsets(kafka_bootstrap, topic)
    third = run_cycle(p, "invoice")
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert [e["cw_id"] for e in events] == [edited] and third.emitted == 1
    assert any(line["quantity"] == Decimal("7") for line in events[0]["lines"])
    with psycopg.connect(fresh_database) as conn:
        status, stored_hash = conn.execute("select status, content_hash from sync_records where record_type='invoice'"
                                           " and cw_id=%s", (str(edited),)).fetchone()
    assert status == "pending" and stored_hash == events[0]["content_hash"]


def test_credit_memos_become_credit_notes(cw_sim, pipeline_factory, kafka_bootstrap, codec):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    p = pipeline_factory(cw_sim)
    topic = RecordKind("credit_note").topic.name
    emitted_before = sample("cz_ingest_records_emitted_total", record_type="credit_note", trigger="SCHEDULE",
                            change="UPSERT")
    ok_before = sample("cz_ingest_cycles_total", record_type="credit_note", outcome="ok")
    since = end_offsets(kafka_bootstrap, topic)
    result = run_cycle(p, "credit_note")
    assert sample("cz_ingest_records_emitted_total", record_type="credit_note", trigger="SCHEDULE",
                  change="UPSERT") - emitted_before == result.emitted
    assert sample("cz_ingest_cycles_total", record_type="credit_note", outcome="ok") == ok_before + 1
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert {e["cw_id"] for e in events} == expected_ids(cw_sim, "credit_note") == set(result.emitted_ids)
    assert all(e["record_type"] == "credit_note" and e["total"] < 0 for e in events)


def test_force_sync_and_replay_emit_whatever_the_hash(cw_sim, pipeline_factory, kafka_bootstrap, codec):
    p = pipeline_factory(cw_sim)
    run_cycle(p, "invoice")
    topic = RecordKind("invoice").topic.name
    target = sorted(expected_ids(cw_sim, "invoice"))[3]
    since = end_offsets(kafka_bootstrap, topic)
    assert force_sync(p, "invoice", str(target)).emitted == 1
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert [(e["cw_id"], e["trigger"]) for e in events] == [(target, "FORCE_SYNC")]

    stamps = sorted(inv["_info"]["lastUpdated"] for inv in cw_sim.state.c["invoices"].by_id.values()
                    if inv["type"] != "CreditMemo")
    start, end = stamps[10], stamps[40]
    inside = {i for i in expected_ids(cw_sim, "invoice")
              if start <= cw_sim.state.c["invoices"].by_id[i]["_info"]["lastUpdated"] <= end}
    since = end_offsets(kafka_bootstrap, topic)
    result = replay(p, "invoice", start, end)
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert {e["cw_id"] for e in events} == inside and result.emitted == len(inside) >= 31
    assert {e["trigger"] for e in events} == {"REPLAY"}


def test_commands_force_sync_within_seconds_run_a_cycle_and_park_the_impossible(cw_sim, kafka_bootstrap, fresh_database, codec):
    # The schedule is hours away: both types ran a moment ago on a 6-hour cadence.
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for rtype in ("invoice", "credit_note", "procurement", "payment"):
            conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_started, last_cycle_finished,"
                         " last_cycle_status) values (%s, now(), now(), now(), 'ok')", (f"cw:{rtype}",))
    settings = Settings(cw_url=cw_sim.url, cw_company=identity.CW_COMPANY, cw_public_key=identity.CW_PUBLIC_KEY,
                        cw_private_key=identity.CW_PRIVATE_KEY, cw_client_id=identity.CW_CLIENT_ID,
                        kafka_bootstrap=kafka_bootstrap, postgres_url=fresh_database, session_timeout_ms=3000)
    stop = threading.Event()
    worker = threading.Thread(target=ingest_app.work, args=(settings, stop), kwargs={"tick_seconds": 0.5}, daemon=True)
    topic = RecordKind("invoice").topic.name
    target = sorted(expected_ids(cw_sim, "invoice"))[5]
    since = end_offsets(kafka_bootstrap, topic)
    worker.start()
    try:
        time.sleep(1.0)  # ingest up (its consumer joins the group on its own time)
        producer = make_producer(kafka_bootstrap)
        sent = time.monotonic()
        producer.produce(SYNC_COMMANDS.name, key=b"invoice", value=codec.encode("sync_command", {
            "command_id": str(uuid.uuid4()), "action": "FORCE_SYNC", "record_type": "invoice",
            "record_id": str(target), "window_from": None, "window_to": None, "requested_by": "test",
            "requested_at": datetime.now(timezone.utc)}))
        producer.flush(10)
        arrived = None
        while time.monotonic() - sent < 20:
            events = read_since(kafka_bootstrap, codec, topic, since, idle=0.2)
            if any(e["cw_id"] == target and e["trigger"] == "FORCE_SYNC" for e in events):
                arrived = time.monotonic() - sent
                break
        assert arrived is not None and arrived < 10, arrived
        # no cycle ran: the schedule was not due (commands queued by other tests may add their own events)
        assert not [e for e in events if e["trigger"] == "SCHEDULE"]

        # RUN_CYCLE makes the type due now; the scheduler runs it within a tick
        before = cursor_row(fresh_database, "credit_note")["last_cycle_started"]
        marker = str(uuid.uuid4())
        for action, record_id in (("RUN_CYCLE", None), ("FORCE_SYNC", f"99999{time.time_ns() % 1000}")):
            producer.produce(SYNC_COMMANDS.name, key=b"x", value=codec.encode("sync_command", {
                "command_id": marker, "action": action, "record_type": "credit_note" if record_id is None else "payment",
                "record_id": record_id, "window_from": None, "window_to": None, "requested_by": "test",
                "requested_at": datetime.now(timezone.utc)}))
        producer.flush(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            row = cursor_row(fresh_database, "credit_note")
            if row["last_cycle_started"] > before and row["last_cycle_status"] == "ok":
                break
            time.sleep(0.2)
        assert row["last_cycle_started"] > before and row["last_cycle_status"] == "ok"
        # a command that cannot be carried out (a payment ingest never saw) is parked with its error
        parked = read_dead_letters(kafka_bootstrap, SYNC_COMMANDS.dlq, codec, marker)
        assert parked and b"not seen by ingest" in parked
    finally:
        stop.set()
        worker.join(20)
    assert not worker.is_alive()


def test_ingest_killed_mid_page_then_rerun_loses_nothing(cw_sim_factory, kafka_bootstrap, fresh_database,
                                                         codec, pipeline_factory):
    sim = cw_sim_factory(5)
    topic = RecordKind("invoice").topic.name
    wanted = expected_ids(sim, "invoice")
    assert len(wanted) > 1000  # two pages
    since = end_offsets(kafka_bootstrap, topic)
    sim.faults.update(latency_ms=250)
    proc = subprocess.Popen([sys.executable, "-m", "tests.ingest.cycle_proc", sim.url, kafka_bootstrap,
                             fresh_database, "invoice"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        recorded = 0
        while recorded == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            with psycopg.connect(fresh_database) as conn:
                recorded = conn.execute("select count(*) from sync_records").fetchone()[0]
        assert 0 < recorded < len(wanted), f"first page not recorded in time ({recorded})"
        time.sleep(0.4)  # into the second page
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    row = cursor_row(fresh_database, "invoice")
    assert row["last_cycle_status"] == "running" and row["cursor_at"].year == 1970  # the cursor did not move

    sim.faults.clear()
    rerun = run_cycle(pipeline_factory(sim), "invoice")
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert {e["cw_id"] for e in events} == wanted  # every record at least once
    assert rerun.emitted <= len(wanted) - recorded  # the recorded first page was not emitted again
    newest = max(sim.state.c["invoices"].by_id[i]["_info"]["lastUpdated"] for i in wanted)
    row = cursor_row(fresh_database, "invoice")
    assert row["cursor_at"] == newest and row["last_cycle_status"] == "ok"
    with psycopg.connect(fresh_database) as conn:
        stored = {int(r[0]) for r in conn.execute("select cw_id from sync_records where record_type='invoice'"
                                                  " and content_hash is not null")}
    assert stored == wanted


def test_a_deleted_invoice_is_emitted_as_deleted_with_its_routing_facts(cw_sim, pipeline_factory, kafka_bootstrap,
                                                                       codec):
    p = pipeline_factory(cw_sim)
    run_cycle(p, "invoice")
    topic = RecordKind("invoice").topic.name
    gone = next(i for i in sorted(expected_ids(cw_sim, "invoice"), reverse=True) if not cw_sim.state.payments_of.get(i))
    before = dict(cw_sim.state.c["invoices"].by_id[gone])
    cw_sim.state.delete_invoice(gone)

    since = end_offsets(kafka_bootstrap, topic)
    result = run_cycle(p, "invoice")
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert [(e["cw_id"], e["change"]) for e in events] == [(gone, "DELETED")] and result.deleted == 1
    deleted = events[0]
    assert deleted["invoice_number"] == before["invoiceNumber"]
    assert deleted["location_id"] == before["locationId"] and deleted["company_id"] == before["company"]["id"]
    assert deleted["custom_fields"] == [{"caption": f["caption"], "value": f["value"]} for f in before["customFields"]]

    since = end_offsets(kafka_bootstrap, topic)
    assert run_cycle(p, "invoice").emitted == 0  # told once
    assert read_since(kafka_bootstrap, codec, topic, since, idle=0.5) == []

    # a force-sync of the deleted record says so again, on demand
    result = force_sync(p, "invoice", str(gone))
    assert result.deleted == 1 and result.emitted_ids == [gone]
    with pytest.raises(Exception, match="404"):
        force_sync(p, "invoice", "987654321")  # never known: nothing to say


def test_purchase_orders_with_their_line_items(cw_sim, pipeline_factory, kafka_bootstrap, codec):
    p = pipeline_factory(cw_sim)
    topic = RecordKind("procurement").topic.name
    since = end_offsets(kafka_bootstrap, topic)
    result = run_cycle(p, "procurement")
    events = read_since(kafka_bootstrap, codec, topic, since)
    orders = cw_sim.state.c["purchaseorders"].by_id
    assert {e["cw_id"] for e in events} == set(orders) and result.emitted == len(orders) > 0
    for event in events:
        po = orders[event["cw_id"]]
        assert event["total"] == po["total"] and event["po_number"] == po["poNumber"]
        assert len(event["lines"]) == len(cw_sim.state.lines_of[event["cw_id"]])
    assert run_cycle(p, "procurement").emitted == 0


def test_a_payment_applied_in_connectwise_does_not_resend_the_invoice(cw_sim, pipeline_factory):
    p = pipeline_factory(cw_sim)
    run_cycle(p, "invoice")
    unpaid = next(i for i in sorted(expected_ids(cw_sim, "invoice"))
                  if cw_sim.state.c["invoices"].by_id[i]["balance"] > 0
                  and cw_sim.state.c["invoices"].by_id[i]["status"]["name"] != "Void")
    balance = cw_sim.state.c["invoices"].by_id[unpaid]["balance"]
    cw_sim.state.add_payment(unpaid, balance, datetime.now(timezone.utc))
    assert cw_sim.state.c["invoices"].by_id[unpaid]["status"]["name"] == "Paid"
    result = run_cycle(p, "invoice")
    assert result.seen >= 1 and result.emitted == 0  # read again (lastUpdated moved), nothing to send
    cw_sim.state.set_invoice_status(unpaid, "Void")
    assert run_cycle(p, "invoice").emitted_ids == [unpaid]


def test_payments_new_and_removed(cw_sim, pipeline_factory, kafka_bootstrap, codec):
    p = pipeline_factory(cw_sim)
    topic = RecordKind("payment").topic.name
    since = end_offsets(kafka_bootstrap, topic)
    first = run_cycle(p, "payment")
    events = read_since(kafka_bootstrap, codec, topic, since)
    money = cw_sim.state.c["payments"].by_id
    payments = {i: m for i, m in money.items() if m["type"] != "Refund"}  # refunds have their own record type
    assert {e["cw_id"] for e in events} == set(payments) and first.emitted == len(payments) > 0
    applied = [e for e in events if money[e["cw_id"]].get("credit")]
    assert applied and all(e["credit_memo_id"] == money[e["cw_id"]]["credit"]["id"] and e["credit_memo_number"]
                           for e in applied)  # a credit memo applied to the invoice
    assert not any(e["credit_memo_id"] for e in events if not money[e["cw_id"]].get("credit"))
    sample = events[0]
    assert sample["amount"] == payments[sample["cw_id"]]["amount"]
    assert sample["invoice_id"] == payments[sample["cw_id"]]["invoice"]["id"]
    assert run_cycle(p, "payment").emitted == 0

    unpaid = next(i for i, inv in sorted(cw_sim.state.c["invoices"].by_id.items())
                  if inv["balance"] > 0 and inv["type"] != "CreditMemo" and not cw_sim.state.payments_of.get(i))
    added = cw_sim.state.add_payment(unpaid, Decimal("1.00"), datetime.now(timezone.utc))
    removed = sample["cw_id"]
    cw_sim.state.delete_payment(payments[removed]["invoice"]["id"], removed)
    since = end_offsets(kafka_bootstrap, topic)
    result = run_cycle(p, "payment")
    events = read_since(kafka_bootstrap, codec, topic, since)
    assert sorted((e["cw_id"], e["change"]) for e in events) == sorted([(added["id"], "UPSERT"), (removed, "DELETED")])
    assert result.deleted == 1

    forced = force_sync(p, "payment", str(added["id"]))
    assert forced.emitted_ids == [added["id"]]


def test_refunds_of_credit_memos_are_their_own_record_type(cw_sim, pipeline_factory, kafka_bootstrap, codec):
    p = pipeline_factory(cw_sim)
    topic = RecordKind("refund").topic.name
    since = end_offsets(kafka_bootstrap, topic)
    result = run_cycle(p, "refund")
    events = read_since(kafka_bootstrap, codec, topic, since)
    refunds = {i: m for i, m in cw_sim.state.c["payments"].by_id.items() if m["type"] == "Refund"}
    assert refunds and {e["cw_id"] for e in events} == set(refunds) and result.emitted == len(refunds)
    for e in events:
        memo = cw_sim.state.c["invoices"].by_id[e["invoice_id"]]
        assert e["record_type"] == "refund" and memo["type"] == "CreditMemo" and e["amount"] > 0
    assert run_cycle(p, "refund").emitted == 0
    assert force_sync(p, "refund", str(events[0]["cw_id"])).emitted_ids == [events[0]["cw_id"]]


def test_a_stop_ends_the_cycle_between_pages_and_the_next_resumes(cw_sim_factory, pipeline_factory, fresh_database):
    from services.ingest.cycle import CycleStopped

    sim = cw_sim_factory(5)
    p = pipeline_factory(sim)
    p.stop = threading.Event()
    sim.faults.update(latency_ms=300)  # the second page's fetch outlasts the watcher's reaction
    outcome = {}

    def run():
        try:
            outcome["result"] = run_cycle(p, "invoice")
        except CycleStopped as exc:
            outcome["stopped"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with psycopg.connect(fresh_database) as conn:
            if conn.execute("select count(*) from sync_records").fetchone()[0]:
                break
        time.sleep(0.05)
    p.stop.set()
    worker.join(60)
    assert "stopped" in outcome, outcome
    row = cursor_row(fresh_database, "invoice")
    assert row["last_cycle_status"] == "interrupted" and row["cursor_at"].year == 1970

    sim.faults.clear()
    p.stop.clear()
    rest = run_cycle(p, "invoice")
    assert 0 < rest.emitted < len(expected_ids(sim, "invoice"))  # only what the stopped cycle had not emitted
    assert cursor_row(fresh_database, "invoice")["last_cycle_status"] == "ok"


def test_a_cycle_completes_through_5xx_429_and_dropped_connections(cw_sim, pipeline_factory, fresh_database):
    cw_sim.faults.update(error_rate=0.2, drop_connection_rate=0.1, storm_429=3, retry_after_seconds=0)
    p = pipeline_factory(cw_sim)
    p.client.attempts = 12
    result = run_cycle(p, "invoice")
    assert set(result.emitted_ids) == expected_ids(cw_sim, "invoice")
    assert cw_sim.faults.storm_429 == 0  # the storm was met and waited out
    assert cursor_row(fresh_database, "invoice")["last_cycle_status"] == "ok"
