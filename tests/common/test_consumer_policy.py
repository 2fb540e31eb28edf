"""The one error policy, against the real broker: an outage is waited out and nothing is
lost or doubled; a message that keeps failing is tried a few times, then dead-lettered with
its origin, and the others go on; what a restart cannot fix stops the consumer."""
from __future__ import annotations

import threading
import uuid
from collections import Counter

import psycopg
import pytest

from services.common.consumer_policy import ATTEMPTS, Unavailable, Verdict, pause, run_consumer, verdict
from services.common.kafka import make_consumer, make_producer
from services.common.settings import SettingsError
from services.common.topics import SYNC_COMMANDS
from services.integrations.connectwise.client import CwApiError
from services.integrations.xero.client import XeroUnavailable

from .test_kafka import read_all
from ..stackutil import wait_for


def test_verdicts():
    assert verdict(psycopg.OperationalError()) is Verdict.RETRY
    assert verdict(Unavailable("audit store")) is Verdict.RETRY
    assert verdict(XeroUnavailable("gave up")) is Verdict.RETRY
    assert verdict(CwApiError("GET", "u", 503)) is Verdict.RETRY
    assert verdict(CwApiError("GET", "u", 400)) is Verdict.DEAD_LETTER
    assert verdict(KeyError("company_identifier")) is Verdict.DEAD_LETTER
    assert verdict(SettingsError("CZ_ALERT_EMAIL_TO: bad")) is Verdict.STOP
    assert [pause(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]


def test_outages_are_waited_out_and_a_failing_message_is_dead_lettered_alone(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    producer = make_producer(kafka_bootstrap)
    for key in ("a", "bad", "b", "c"):
        producer.produce(SYNC_COMMANDS.name, key=f"{key}-{run}".encode(), value=key.encode())
    producer.flush(10)
    handled, tries = Counter(), Counter()
    outages = {"left": 2}
    stop = threading.Event()

    def handle(msgs):
        ours = [m for m in msgs if m.key() and m.key().decode().endswith(run)]
        for m in ours:
            tries[m.key().decode()] += 1
        if ours and outages["left"]:
            outages["left"] -= 1
            raise psycopg.OperationalError("the database went away")  # nothing committed: all come again
        if any(m.key().decode().startswith("bad-") for m in ours):
            raise RuntimeError("this message cannot be handled")
        for m in ours:
            handled[m.key().decode()] += 1
        return []

    group = f"policy-{run}"
    thread = threading.Thread(target=run_consumer, args=(
        "probe", kafka_bootstrap, lambda: make_consumer(kafka_bootstrap, group, [SYNC_COMMANDS.name], 6000),
        handle, stop), kwargs={"max_batch": 500, "poll_timeout": 0.1}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: {f"{k}-{run}" for k in "abc"} <= set(handled), 60, what="the good messages handled")
    finally:
        stop.set()
        thread.join(20)
    assert all(handled[f"{k}-{run}"] == 1 for k in "abc")  # once each, through two outages
    assert tries[f"bad-{run}"] == 2 + 1 + ATTEMPTS  # two outages, the batch, then alone ATTEMPTS times
    parked = [m for m in read_all(kafka_bootstrap, SYNC_COMMANDS.dlq, 1000, timeout=8)
              if m.key() and m.key().decode() == f"bad-{run}"]
    assert len(parked) == 1
    headers = dict(parked[0].headers())
    assert b"cannot be handled" in headers["dlq.error"] and headers["dlq.origin.topic"] == SYNC_COMMANDS.name.encode()


def test_what_a_restart_cannot_fix_stops_the_consumer(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    producer = make_producer(kafka_bootstrap)
    producer.produce(SYNC_COMMANDS.name, key=f"x-{run}".encode(), value=b"x")
    producer.flush(10)

    def handle(msgs):
        if any(m.key() and m.key().decode().endswith(run) for m in msgs):
            raise SettingsError("CZ_SMTP_URL: not an smtp:// URL")
        return []

    with pytest.raises(SettingsError):
        run_consumer("probe", kafka_bootstrap,
                     lambda: make_consumer(kafka_bootstrap, f"stop-{run}", [SYNC_COMMANDS.name], 6000),
                     handle, threading.Event(), poll_timeout=0.1)
