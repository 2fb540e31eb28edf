"""The mutator keeps editing and adding invoices through the state, so totals
stay derived and lastUpdated moves."""
import threading
from random import Random

from services.sandbox.connectwise import mutator
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock


def consistent(state: CwState) -> None:
    for po in state.c["purchaseorders"].all():
        lines = [state.c["lineitems"].by_id[i] for i in state.lines_of[po["id"]]]
        assert po["subTotal"] == sum((l["quantity"] * l["unitCost"] for l in lines), 0)
        assert po["total"] == po["subTotal"] + po["freightCost"] + po["salesTax"]
    for inv in state.c["invoices"].all():
        products = [state.c["products"].by_id[p] for p in state.products_of[inv["id"]]]
        assert inv["subtotal"] == sum((p["extPrice"] for p in products), 0)
        assert inv["total"] == inv["subtotal"] + inv["salesTax"]
        assert inv["balance"] == inv["total"] - inv["payments"] - inv["credits"]


def test_mutations_cover_every_kind_and_keep_totals_derived():
    clock = ManualClock()
    state = CwState.from_seed(7, 1, clock=clock)
    before = {i["id"]: i for i in state.c["invoices"].all()}
    rng = Random(1)
    actions = []
    for _ in range(200):
        clock.advance(seconds=30)
        actions.append(mutator.mutate_once(state, rng))
    assert {a["action"] for a in actions} == {"new", "quantity", "price", "line", "void", "delete",
                                              "new_po", "po_quantity"}
    consistent(state)
    seeded_latest = max(i["_info"]["lastUpdated"] for i in before.values())
    for change in (a for a in actions if "invoiceId" in a):
        inv = state.c["invoices"].get(change["invoiceId"])
        if change["action"] == "delete":
            assert inv is None
        elif inv is not None:
            assert inv["_info"]["lastUpdated"] > seeded_latest
    paid_before = {i for i, inv in before.items() if state.payments_of.get(i)}
    for inv_id in paid_before:  # invoices with payments are left alone
        assert state.c["invoices"].get(inv_id) == before[inv_id]


def test_same_seed_same_changes():
    runs = []
    for _ in range(2):
        state = CwState.from_seed(7, 0, clock=ManualClock())
        rng = Random(9)
        runs.append([mutator.mutate_once(state, rng) for _ in range(30)])
    assert runs[0] == runs[1]


def test_loop_runs_until_stopped():
    state = CwState.from_seed(7, 0, clock=ManualClock())
    heard = []
    state.listeners.append(lambda kind, action, record: heard.append(action))
    thread, stop = mutator.start(state, 0.01, Random(2))
    deadline = threading.Event()
    deadline.wait(0.3)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive() and len(heard) >= 3
