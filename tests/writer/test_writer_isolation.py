"""An organisation at its Xero day limit holds up no other, however much of its work waits.

Real broker, Postgres, the Xero simulator and the writer as a process. The writer may hold 100
requests of an organisation in memory (CZ_WRITER_MAX_BATCH); Adelaide has 400 waiting, all in the
one partition the others' requests share, which is the hard case for the commit point."""
from __future__ import annotations

import time
from collections import Counter

import httpx
from confluent_kafka import Consumer, TopicPartition

from services.common.kafka import make_producer
from services.common.topics import XERO_WRITES
from tests.integrations.xero.sim import invoice_body, invoices_by_number
from tests.writer.harness import WriterProcess, wait_until, write_request
from tests.writer.test_writer_e2e import results_for, wait_results, writer_stack, xero_headers
from tests.stackutil import QUICK_JOIN

HOLD = 100  # the writer's hold per organisation
PER_ORG = 300  # requests of each organisation that is not blocked, per phase
BLOCKED = 400  # Adelaide's requests waiting for its day limit: four times the hold
DAY = 500  # the simulator's calls a day per organisation: Sydney and Holdings use far fewer
PARTITION = 0


def produce_to_one_partition(s, requests: list[dict]) -> list[int]:
    """Every request into one partition, as organisations whose keys share one are; their offsets."""
    producer = make_producer(s.bootstrap)
    offsets: list[int] = [-1] * len(requests)

    def delivered(i: int):
        def record(err, msg):
            assert err is None, err
            offsets[i] = msg.offset()
        return record

    for i, r in enumerate(requests):
        producer.produce(XERO_WRITES.name, key=r["organisation_id"].encode(), partition=PARTITION,
                         value=s.codec.encode("xero_write_request", r), on_delivery=delivered(i))
    producer.flush(30)
    return offsets


def requests_for(s, shorts, prefix: str, count: int, first_cw_id: int) -> list[dict]:
    """`count` new invoices for each organisation, interleaved as a sync emits them."""
    return [write_request(s.orgs[short], first_cw_id + n * len(shorts) + i,
                          invoice_body(s.sim, short, f"{prefix}-{short}-{n}"))
            for n in range(count) for i, short in enumerate(shorts)]


def spend_the_day(s, short: str) -> int:
    """Calls Xero for the organisation until the simulator answers that its day is spent."""
    headers, calls = xero_headers(s.sim, short), 0
    with httpx.Client(timeout=10) as http:
        while http.get(f"{s.sim.api_url}/Organisation", headers=headers).status_code != 429:
            calls += 1
    return calls


def timed_writes(s, requests: list[dict], timeout: float) -> float:
    started = time.monotonic()
    produce_to_one_partition(s, requests)
    wait_results(s, {r["cw_id"] for r in requests}, timeout=timeout)
    return time.monotonic() - started


def committed(s) -> int:
    group = Consumer({**QUICK_JOIN, "bootstrap.servers": s.bootstrap, "group.id": s.env["CZ_WRITER_GROUP"]})
    try:
        [point] = group.committed([TopicPartition(XERO_WRITES.name, PARTITION)], timeout=10)
        return point.offset
    finally:
        group.close()


def test_an_organisation_at_its_day_limit_with_more_waiting_than_the_writer_holds_holds_up_no_other(
        kafka_bootstrap, fresh_database, codec, tmp_path):
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path, CZ_WRITER_MAX_BATCH=HOLD) as s:
        s.sim.control("limits", per_day=DAY)
        warm = requests_for(s, ("adelaide", "sydney", "holdings"), "W", 1, 10000)  # tokens, contacts, seeded usage
        timed_writes(s, warm, 60)
        others = ("sydney", "holdings")
        unblocked = timed_writes(s, requests_for(s, others, "A", PER_ORG, 20000), 120)

        spent = spend_the_day(s, "adelaide")
        assert spent < DAY  # the writer spent the first of its calls
        waiting = requests_for(s, ("adelaide",), "B", BLOCKED, 30000)
        alongside = requests_for(s, others, "B", PER_ORG, 40000)
        started = time.monotonic()  # from Adelaide's requests on: they come first
        offsets = produce_to_one_partition(s, waiting)
        timed_writes(s, alongside, max(60, 4 * unblocked))
        blocked = time.monotonic() - started
        print(f"Sydney and Holdings wrote {2 * PER_ORG} invoices in {unblocked:.1f}s with no organisation blocked, "
              f"{blocked:.1f}s with {BLOCKED} of Adelaide's waiting out its day limit ahead of them")
        # Full pace: within a generous margin of the same work with nobody blocked (a loaded machine varies).
        assert blocked <= 2 * unblocked + 10
        for short in others:
            numbers = [n for n in invoices_by_number(s.sim, short) if n.startswith(f"B-{short}-")]
            assert len(numbers) == PER_ORG
        assert not [n for n in invoices_by_number(s.sim, "adelaide") if n.startswith("B-")]
        assert not results_for(s, {r["cw_id"] for r in waiting})  # waiting, not failed

        # The commit point reaches Adelaide's first unwritten request and stays there.
        wait_until(lambda: committed(s) == offsets[0], 10, what="the commit point at Adelaide's first request")
        time.sleep(1)
        assert committed(s) == offsets[0]

        # A new day: in the simulator, and for the writer, which restarts (its own count of the day's calls
        # says wait a day). Killed, so nothing but what was committed survives.
        s.writer.kill()
        s.sim.control("clock", advance_seconds=86400)
        s.writer = WriterProcess(s.env, s.tmp / "writer.log").start()
        results = wait_results(s, {r["cw_id"] for r in waiting}, timeout=120)
        assert Counter(len(v) for v in results.values()) == {1: BLOCKED}  # each written once, reported once
        assert {v[0]["outcome"] for v in results.values()} == {"CREATED"}
        for short in ("adelaide", *others):
            ours = {n: len(v) for n, v in invoices_by_number(s.sim, short).items() if n.startswith(("A-", "B-"))}
            assert set(ours.values()) == {1} and len(ours) == (BLOCKED if short == "adelaide" else 2 * PER_ORG)
