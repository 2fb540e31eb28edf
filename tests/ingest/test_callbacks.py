"""Callbacks through the normal ingest path, against the ConnectWise simulator, the real
broker and real Postgres: what changed is emitted (trigger CALLBACK), what did not is
not, what is gone is DELETED, money follows its invoice; a burst costs a call per 25
records at most; the consumer waits for a write in flight and commits only what it
fetched; registration is idempotent."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from services.common.database import Database
from services.common.exchanges import ExchangeRecorder
from services.common.hint_window import HintWindow
from services.common.kafka import make_producer
from services.common.receiver_urls import cw_callback_url
from services.common.topics import CW_CALLBACKS
from services.ingest.callback_consumer import Hint, callback_consumer
from services.ingest.callback_fetch import fetch_hinted
from services.ingest.callback_registration import is_ours, register, registered, unregister
from services.ingest.callback_store import CallbackStore
from services.ingest.cycle import Emitter, Pipeline, run_cycle
from services.ingest.realtime import counting_misses
from services.ingest.store import Store
from services.receivers.queue import HintQueue

from .test_cycle import end_offsets, read_since
from tests.stackutil import QUICK_JOIN


class Calls(ExchangeRecorder):
    """Every ConnectWise call the pipeline makes, as (method, path)."""

    def __init__(self):
        super().__init__("connectwise", "test")
        self.made: list[tuple[str, str]] = []

    def publish(self, record: dict) -> None:
        self.made.append((record["method"], record["url"].split("/apis/3.0/", 1)[-1].split("?", 1)[0]))


def make_pipeline(sim, bootstrap, url, codec, calls: Calls | None = None) -> tuple[Pipeline, CallbackStore]:
    db = Database(url)
    return (Pipeline(sim.client(recorder=calls), Store(db), Emitter(make_producer(bootstrap), codec)),
            CallbackStore(db))


def invoices_of(sim, memo: bool) -> list[int]:
    return sorted(i for i, inv in sim.state.c["invoices"].by_id.items() if (inv["type"] == "CreditMemo") == memo)


def bump(sim, invoice_id: int) -> None:
    """An edit in ConnectWise: the quantity of the invoice's first line goes up by one."""
    product = sim.state.c["products"].by_id[sim.state.products_of[invoice_id][0]]
    sim.state.update_product(product["id"], quantity=product["quantity"] + 1)


def events_since(bootstrap, codec, since, *topics) -> list[dict]:
    return [e for topic in topics for e in read_since(bootstrap, codec, topic, since, idle=0.8)]


def test_callbacks_emit_only_what_changed_and_money_follows_its_invoice(cw_sim, kafka_bootstrap, fresh_database,
                                                                       codec):
    calls = Calls()
    p, store = make_pipeline(cw_sim, kafka_bootstrap, fresh_database, codec, calls)
    for record_type in ("invoice", "credit_note", "payment", "refund"):
        run_cycle(p, record_type)
    state = cw_sim.state
    plain = [i for i in invoices_of(cw_sim, False) if not state.payments_of.get(i) and not state.applied_from.get(i)
             and state.c["invoices"].by_id[i]["balance"] > 10 and state.products_of.get(i)]
    edited, paid, untouched, deleted = plain[:4]
    memo = next(i for i in invoices_of(cw_sim, True) if state.products_of.get(i))
    bump(cw_sim, edited)
    bump(cw_sim, memo)
    state.add_payment(paid, Decimal("10.00"), datetime(2026, 11, 20, tzinfo=timezone.utc))
    new_payment = state.payments_of[paid][-1]
    state.delete_invoice(deleted)
    unknown = 987_654_321

    since = end_offsets(kafka_bootstrap, "cw.invoices.v1")
    calls.made.clear()
    results = fetch_hinted(p, store, "invoice", sorted([edited, memo, paid, untouched, deleted, unknown]))
    events = events_since(kafka_bootstrap, codec, since, "cw.invoices.v1", "cw.credit_notes.v1", "cw.payments.v1")
    assert sorted((e["record_type"], e["cw_id"], e["change"]) for e in events) == sorted([
        ("invoice", edited, "UPSERT"), ("credit_note", memo, "UPSERT"), ("payment", new_payment, "UPSERT"),
        ("invoice", deleted, "DELETED")])
    assert {e["trigger"] for e in events} == {"CALLBACK"}
    assert sum(r.emitted for r in results) == 4
    # One read of the six ids, one of the lines per type, and the payments of the one invoice whose money moved.
    assert sorted(path for _, path in calls.made) == sorted([
        "finance/invoices", "procurement/products", "procurement/products", f"finance/invoices/{paid}/payments"])

    # The same callbacks again (ConnectWise sends twice; a replay): nothing is emitted twice.
    since = end_offsets(kafka_bootstrap, "cw.invoices.v1")
    again = fetch_hinted(p, store, "invoice", sorted([edited, memo, paid, untouched, deleted, unknown]))
    assert sum(r.emitted for r in again) == 0
    assert events_since(kafka_bootstrap, codec, since, "cw.invoices.v1", "cw.credit_notes.v1", "cw.payments.v1") == []


def test_a_burst_of_callbacks_costs_at_most_a_call_per_25_records(cw_sim, kafka_bootstrap, fresh_database, codec):
    calls = Calls()
    p, store = make_pipeline(cw_sim, kafka_bootstrap, fresh_database, codec, calls)
    for record_type in ("invoice", "credit_note", "payment", "refund"):
        run_cycle(p, record_type)
    burst = [i for i in invoices_of(cw_sim, False) + invoices_of(cw_sim, True) if cw_sim.state.products_of.get(i)]
    for invoice_id in burst:
        bump(cw_sim, invoice_id)
    coalescer = HintWindow(window=0.5)
    for offset, invoice_id in enumerate(burst + burst[:50]):  # some twice, as ConnectWise may send them
        coalescer.add(Hint("invoice", invoice_id), 0.0, (0, offset))
    hinted = coalescer.take(0.5)
    assert len(hinted) == len(burst) >= 250
    calls.made.clear()
    results = fetch_hinted(p, store, "invoice", [h.cw_id for h in hinted])
    assert sum(r.emitted for r in results) == len(burst)
    assert len(calls.made) <= len(burst) / 25, calls.made


def hints_consumer(bootstrap: str) -> Consumer:
    """A consumer of callbacks that starts at the end of the topic (other tests share it)."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"cb-{uuid.uuid4()}", "enable.auto.commit": False,
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": 20, "session.timeout.ms": 6000})
    assigned = threading.Event()
    consumer.subscribe([CW_CALLBACKS.name], on_assign=lambda c, parts: assigned.set())
    deadline = time.monotonic() + 20
    while not assigned.is_set() and time.monotonic() < deadline:
        consumer.consume(1, 0.2)
    assert assigned.is_set()
    return consumer


def hint(cw_id: int) -> tuple[str, dict]:
    return (f"invoice:{cw_id}", {"callback_id": str(uuid.uuid4()), "cw_type": "invoice", "cw_id": cw_id,
                                 "action": "updated", "received_at": datetime.now(timezone.utc)})


def test_the_consumer_waits_for_a_write_in_flight_and_commits_only_what_it_fetched(cw_sim, kafka_bootstrap,
                                                                                   fresh_database, codec):
    p, store = make_pipeline(cw_sim, kafka_bootstrap, fresh_database, codec)
    run_cycle(p, "invoice")
    busy, free = [i for i in invoices_of(cw_sim, False) if cw_sim.state.products_of.get(i)][:2]
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("update sync_records set status = 'synced'")  # as the writer leaves them
        # busy's last change is on its way to Xero
        conn.execute("update sync_records set status = 'mapped' where record_type = 'invoice' and cw_id = %s",
                     (str(busy),))
    bump(cw_sim, busy)
    bump(cw_sim, free)
    consumer = hints_consumer(kafka_bootstrap)
    producer = make_producer(kafka_bootstrap)
    worker = callback_consumer(p, store, codec, HintWindow(window=0.2, recheck=0.2))
    stop = threading.Event()
    since = end_offsets(kafka_bootstrap, "cw.invoices.v1")
    HintQueue(kafka_bootstrap, codec).put(CW_CALLBACKS, [hint(busy), hint(free), hint(free)])
    producer.produce(f"{CW_CALLBACKS.name}", key=b"invoice:x", value=b"not avro")  # poison: parked, not fatal
    producer.flush(10)
    thread = threading.Thread(target=worker.run, args=(consumer, producer, stop), daemon=True)
    thread.start()
    try:
        time.sleep(2.0)
        first = read_since(kafka_bootstrap, codec, "cw.invoices.v1", since, idle=0.5)
        assert [(e["cw_id"], e["trigger"]) for e in first] == [(free, "CALLBACK")]
        assert Hint("invoice", busy) in worker.window and worker.window.uncommitted()  # held, offset too
        with psycopg.connect(fresh_database, autocommit=True) as conn:  # the write lands
            conn.execute("update sync_records set status = 'synced' where record_type = 'invoice' and cw_id = %s",
                         (str(busy),))
        deadline = time.monotonic() + 10
        while Hint("invoice", busy) in worker.window and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
    events = read_since(kafka_bootstrap, codec, "cw.invoices.v1", since, idle=0.5)
    assert sorted(e["cw_id"] for e in events) == sorted([busy, free])
    committed = {tp.partition: tp.offset for tp in consumer.committed(
        [TopicPartition(CW_CALLBACKS.name, part) for part in range(CW_CALLBACKS.partitions)], timeout=10)
        if tp.offset >= 0}
    assert committed == {part: worker.consumed[part] + 1 for part in worker.consumed}
    consumer.close()


def test_registration_is_idempotent_and_leaves_other_callbacks_alone(cw_sim):
    client = cw_sim.client()
    base = "https://cz.example.com"
    client.request("POST", "system/callbacks", json_body={"url": "https://other.example.com/hook", "type": "Invoice"})
    first = register(client, base, "one")
    assert len(first.add) == 2 and first.remove == []
    assert register(client, base, "one").add == []
    ours = [c for c in registered(client) if is_ours(c, base)]
    assert sorted((c["type"], c["url"]) for c in ours) == [("Invoice", cw_callback_url(base, "one")),
                                                           ("PurchaseOrder", cw_callback_url(base, "one"))]
    rotated = register(client, base, "two")  # a new secret: the old URLs are removed
    assert len(rotated.add) == 2 and sorted(rotated.remove) == sorted(c["id"] for c in ours)
    assert unregister(client, base) == 2
    assert [c["url"] for c in registered(client)] == ["https://other.example.com/hook"]


def test_a_scheduled_cycle_counts_the_changes_no_callback_brought(cw_sim, kafka_bootstrap, fresh_database, codec):
    def misses() -> float:
        return REGISTRY.get_sample_value("cz_callback_misses_total", {"record_type": "invoice"}) or 0

    p, _ = make_pipeline(cw_sim, kafka_bootstrap, fresh_database, codec)
    run = counting_misses(run_cycle)
    before = misses()
    run(p, "invoice")  # the first cycle reads everything: a backfill, not misses
    assert misses() == before
    bump(cw_sim, invoices_of(cw_sim, False)[0])
    run(p, "invoice")
    assert misses() == before + 1


def test_connectzero_callbacks_registers_lists_and_removes_ours_without_showing_the_secret(cw_sim, tmp_path):
    from typer.testing import CliRunner

    from services.cli.main import app
    from services.common.sandbox_identity import CW_CLIENT_ID, CW_COMPANY, CW_PRIVATE_KEY, CW_PUBLIC_KEY

    secret = "cli-" + uuid.uuid4().hex
    env = {"CZ_CW_URL": cw_sim.url, "CZ_CW_COMPANY": CW_COMPANY, "CZ_CW_PUBLIC_KEY": CW_PUBLIC_KEY,
           "CZ_CW_PRIVATE_KEY": CW_PRIVATE_KEY, "CZ_CW_CLIENT_ID": CW_CLIENT_ID, "CZ_DATA_DIR": str(tmp_path),
           "CZ_RECEIVERS_PUBLIC_URL": "https://cz.example.com", "CZ_CALLBACK_SECRET": secret}
    runner = CliRunner()
    registered_now = runner.invoke(app, ["callbacks", "register"], env=env)
    assert registered_now.exit_code == 0, registered_now.output
    assert "2 added" in registered_now.output and "/connectwise/callbacks/***" in registered_now.output
    assert secret not in registered_now.output
    listed = runner.invoke(app, ["callbacks"], env=env)
    assert listed.exit_code == 0 and listed.output.count("/connectwise/callbacks/***") == 2
    removed = runner.invoke(app, ["callbacks", "remove"], env=env)
    assert removed.exit_code == 0 and "2 removed" in removed.output
    assert registered(cw_sim.client()) == []
    assert runner.invoke(app, ["callbacks", "forget"], env=env).exit_code == 2
