"""The cycle's logic with fakes of its ports (no Postgres, broker or HTTP): what a first
cycle, an unchanged one, an edit, a deletion and a broken record each emit, and where
the cursor goes. The same cycle runs against the real parts in test_cycle.py."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from services.ingest.cycle import Pipeline, run_cycle
from services.sandbox.connectwise.render import to_json
from services.sandbox.connectwise.state import CwState

from .fakes import FakeConnectWise, FakeStore

T = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


class CollectingEmitter:
    def __init__(self):
        self.events: list[dict] = []

    def emit(self, record_type: str, events: list[dict]) -> None:
        self.events += events


def connectwise() -> FakeConnectWise:
    """The seed's purchase orders and lines as ConnectWise's JSON has them."""
    state = CwState.from_seed(7, 0)
    as_json = lambda record: json.loads(to_json(record), parse_float=Decimal)  # noqa: E731
    orders = {po["id"]: as_json(po) for po in state.c["purchaseorders"].by_id.values()}
    lines = {po_id: [as_json(state.c["lineitems"].by_id[i]) for i in ids] for po_id, ids in state.lines_of.items()}
    return FakeConnectWise(orders, lines)


def pipeline(cw: FakeConnectWise, store: FakeStore, emitter: CollectingEmitter) -> Pipeline:
    return Pipeline(cw, store, emitter, managers=object(), clock=lambda: T)


def test_first_cycle_emits_all_then_nothing_then_only_the_edit_and_the_deletion():
    cw, store, emitter = connectwise(), FakeStore(), CollectingEmitter()
    p = pipeline(cw, store, emitter)
    first = run_cycle(p, "procurement")
    assert first.emitted == len(cw.orders) > 0 and {e["cw_id"] for e in emitter.events} == set(cw.orders)
    assert all(e["lines"] for e in emitter.events if cw.lines.get(e["cw_id"]))
    newest = max(datetime.fromisoformat(o["_info"]["lastUpdated"].replace("Z", "+00:00")) for o in cw.orders.values())
    assert store.cursor("procurement").cursor_at == newest and store.cursor("procurement").last_cycle_status == "ok"

    emitter.events.clear()
    assert run_cycle(p, "procurement").emitted == 0 and emitter.events == []

    edited, gone = sorted(cw.orders)[:2]
    cw.orders[edited]["vendorInvoiceNumber"] = "VI-EDITED"
    del cw.orders[gone]
    result = run_cycle(p, "procurement")
    assert sorted((e["cw_id"], e["change"]) for e in emitter.events) == sorted([(edited, "UPSERT"), (gone, "DELETED")])
    assert result.deleted == 1 and store.locked == set()  # the cycle lock was released


def test_a_record_that_cannot_be_read_is_failed_and_read_again_next_cycle():
    cw, store, emitter = connectwise(), FakeStore(), CollectingEmitter()
    broken = sorted(cw.orders)[0]
    number = cw.orders[broken].pop("poNumber")
    result = run_cycle(pipeline(cw, store, emitter), "procurement")
    assert result.failed == 1 and broken not in {e["cw_id"] for e in emitter.events}
    assert store.known("procurement", str(broken))["status"] == "failed"
    cw.orders[broken]["poNumber"] = number  # fixed in ConnectWise: the next cycle reads it again
    emitter.events.clear()
    run_cycle(pipeline(cw, store, emitter), "procurement")
    assert [e["cw_id"] for e in emitter.events] == [broken]


def test_a_cycle_running_elsewhere_is_skipped():
    cw, store, emitter = connectwise(), FakeStore(locked={"procurement"}), CollectingEmitter()
    assert run_cycle(pipeline(cw, store, emitter), "procurement").skipped and cw.calls == []
