"""Hints gathered into few fetches, offsets committed only behind what is fetched; for
ConnectWise callbacks, the money check that spares a call per invoice and the
registration plan. Pure."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.receiver_urls import cw_callback_url
from services.ingest.callback_fetch import money_moved
from services.common.hint_window import HintWindow, commit_positions
from services.ingest.callback_consumer import Hint
from services.ingest.callback_registration import DESCRIPTION, plan

INV = [Hint("invoice", i) for i in range(1, 6)]


def test_hints_are_gathered_until_they_stop_coming_and_the_same_record_is_fetched_once():
    c = HintWindow(window=0.5)
    c.add(INV[0], 10.0, (0, 1))
    c.add(INV[1], 10.2, (1, 7))
    c.add(INV[0], 10.3, (2, 4))  # the same record again: one fetch, once the edits settle
    assert not c.due(10.7) and c.take(10.7) == [] and c.next_due() == 10.8
    assert c.due(10.8) and c.take(10.8) == [INV[0], INV[1]]
    assert c.uncommitted() == {0: 1, 1: 7, 2: 4}  # taken is not fetched: nothing committed past them
    c.done([INV[0], INV[1]])
    assert len(c) == 0 and c.uncommitted() == {} and c.next_due() is None


def test_one_edit_alone_is_fetched_one_window_after_its_callback():
    c = HintWindow(window=0.5)
    c.add(INV[0], 3.0)
    assert c.next_due() == 3.5 and c.take(3.49) == [] and c.take(3.5) == [INV[0]]


def test_an_invoice_built_line_by_line_is_fetched_once_it_is_complete_but_not_too_late():
    c = HintWindow(window=0.5, max_delay=2.0)
    for step in range(10):  # a callback every 0.3 s
        c.add(INV[0], step * 0.3)
        if step < 6:
            assert not c.due(step * 0.3 + 0.29)
    assert c.next_due() == 2.0  # two seconds after its first callback at most
    assert c.take(2.0) == [INV[0]]


def test_a_steady_burst_is_fetched_in_rounds_of_max_delay():
    c = HintWindow(window=0.5, max_delay=2.0)
    rounds, now = [], 0.0
    for n in range(500):  # 500 records, a callback every 10 ms: five seconds of them
        now = n * 0.01
        c.add(Hint("invoice", 1000 + n), now)
        if c.due(now):
            taken = c.take(now)
            rounds.append(len(taken))
            c.done(taken)
    taken = c.take(c.next_due())
    rounds.append(len(taken))
    assert sum(rounds) == 500 and len(rounds) == 3, rounds


def test_a_full_batch_goes_before_the_window_ends():
    c = HintWindow(window=5.0, max_batch=3)
    for i, hint in enumerate(INV[:3]):
        c.add(hint, 1.0 + i / 100)
    assert c.due(1.1) and c.take(1.1) == INV[:3]


def test_a_record_with_a_write_in_flight_waits_for_it_but_not_for_ever():
    c = HintWindow(window=0.5, max_wait=30.0, recheck=1.0)
    c.add(INV[0], 0.0, (0, 1))
    c.add(INV[1], 0.0, (0, 2))
    assert c.take(0.5) == [INV[0], INV[1]]
    assert c.wait_for_write([INV[0]], 0.5) == []  # waits; INV[1] is fetched
    c.done([INV[1]])
    assert c.take(1.0) == [] and c.next_due() == 1.5
    assert c.take(1.5) == [INV[0]]
    assert c.wait_for_write([INV[0]], 1.5) == []
    c.add(INV[2], 1.9)
    assert c.take(2.4) == [INV[2]]  # a fresh hint is not held back by one that waits
    c.done([INV[2]])
    assert c.take(30.6) == [INV[0]]
    assert c.wait_for_write([INV[0]], 30.6) == [INV[0]]  # waited long enough: fetched anyway
    assert c.uncommitted() == {0: 1}  # still held until fetched
    c.done([INV[0]])
    assert c.uncommitted() == {}


def test_a_failed_fetch_is_tried_again_later():
    c = HintWindow(window=0.5)
    c.add(INV[0], 0.0)
    assert c.take(0.5) == [INV[0]]
    c.retry_later([INV[0]], 0.5, 4.0)
    assert c.take(1.0) == [] and c.take(4.5) == [INV[0]]


def test_offsets_are_committed_up_to_the_first_hint_not_fetched():
    assert commit_positions({0: 9, 1: 3}, {}) == {0: 10, 1: 4}
    assert commit_positions({0: 9, 1: 3}, {0: 5}) == {0: 5, 1: 4}


@pytest.mark.parametrize("invoice, emitted, moved", [
    ({"type": "Standard", "payments": Decimal("0"), "credits": Decimal("0")}, Decimal("0"), False),
    ({"type": "Standard", "payments": Decimal("100.00"), "credits": Decimal("10.00")}, Decimal("110.0000"), False),
    ({"type": "Standard", "payments": Decimal("100.00"), "credits": Decimal("10.00")}, Decimal("100"), True),
    ({"type": "Standard", "payments": Decimal("50.00")}, Decimal("0"), True),
    ({"type": "CreditMemo", "payments": Decimal("-20.00"), "credits": Decimal("-60.00")}, Decimal("20"), False),
    ({"type": "CreditMemo", "payments": Decimal("-20.00"), "credits": Decimal("-60.00")}, Decimal("0"), True),
])
def test_money_is_read_only_when_the_invoice_totals_moved(invoice, emitted, moved):
    assert money_moved(invoice, emitted) is moved


BASE, SECRET = "https://cz.example.com", "s3cret"
URL = cw_callback_url(BASE, SECRET)


def callback(id_, url=URL, type_="Invoice", **extra):
    return {"id": id_, "url": url, "type": type_, "objectId": 0, "level": "All", "description": DESCRIPTION,
            "inactiveFlag": False, **extra}


def test_registration_adds_what_is_missing_and_removes_only_our_stale_callbacks():
    first = plan([], BASE, SECRET)
    assert [(b["type"], b["url"], b["level"], b["objectId"]) for b in first.add] == [
        ("Invoice", URL, "All", 0), ("PurchaseOrder", URL, "All", 0)]
    assert first.remove == [] and first.kept == []

    done = plan([callback(1), callback(2, type_="PurchaseOrder")], BASE, SECRET)
    assert (done.add, done.remove, done.kept) == ([], [], [1, 2])

    others = callback(9, url="https://other-integration.example.com/hook")
    messy = plan([callback(3, url=cw_callback_url(BASE, "old-secret")), callback(4), callback(5),
                  callback(6, type_="Ticket"), callback(7, type_="PurchaseOrder", inactiveFlag=True), others],
                 BASE, SECRET)
    assert messy.kept == [4] and messy.remove == [3, 5, 6, 7]
    assert [b["type"] for b in messy.add] == ["PurchaseOrder"]
