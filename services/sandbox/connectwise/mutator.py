"""Keeps the ConnectWise data moving, as a live MSP does: edits a line of a
recent invoice (quantity or price), adds a line, raises a new invoice, now
and then voids or deletes one, and sometimes raises or edits a purchase order. Every change goes through the state, so
`_info.lastUpdated` moves and callbacks fire.

Only invoices without payments (nor, for a credit memo, credit applied from it)
are edited, voided or deleted: changing a paid invoice under its payments is a
different scenario (a test sets it up itself).
"""

from __future__ import annotations

import logging
import random
import threading
from decimal import Decimal
from typing import Any

from . import procurement, writes
from .state import CwState

log = logging.getLogger(__name__)
RECENT = 200  # edits land on the newest invoices, where mid-cycle edits happen


def _editable(state: CwState) -> list[int]:
    ids = state.c["invoices"].ids[-RECENT:]
    return [
        i
        for i in ids
        if not state.payments_of.get(i)
        and not state.applied_from.get(i)
        and state.c["invoices"].by_id[i]["status"]["name"] != "Void"
    ]


def mutate_once(state: CwState, rng: random.Random) -> dict[str, Any]:
    """Make one change; returns what was done ({action, invoiceId or purchaseOrderId, ...})."""
    with state.lock:
        if rng.random() < 0.12:
            return _procurement_change(state, rng)
        editable = _editable(state)
        roll = rng.random()
        if not editable or roll < 0.25:
            return _new_invoice(state, rng)
        invoice_id = rng.choice(editable)
        products = state.products_of.get(invoice_id, [])
        if roll < 0.70 and products:
            product = state.c["products"].by_id[rng.choice(products)]
            if rng.random() < 0.6:
                quantity = max(Decimal(1), product["quantity"] + rng.choice([-2, -1, 1, 2, 5]))
                state.update_product(product["id"], quantity=quantity)
                return {"action": "quantity", "invoiceId": invoice_id, "productId": product["id"]}
            price = (product["price"] * Decimal(rng.choice(["0.9", "0.95", "1.05", "1.1"]))).quantize(Decimal("0.01"))
            state.update_product(product["id"], price=price)
            return {"action": "price", "invoiceId": invoice_id, "productId": product["id"]}
        if roll < 0.85:
            item = rng.choice(state.msp.catalog)
            product = state.add_product(invoice_id, item, Decimal(rng.randint(1, 5)))
            return {"action": "line", "invoiceId": invoice_id, "productId": product["id"]}
        if roll < 0.93:
            state.set_invoice_status(invoice_id, "Void")
            return {"action": "void", "invoiceId": invoice_id}
        state.delete_invoice(invoice_id)
        return {"action": "delete", "invoiceId": invoice_id}


def _new_invoice(state: CwState, rng: random.Random) -> dict[str, Any]:
    customers = [c for c in state.msp.companies if not c.is_vendor]
    company = rng.choice(customers)
    kind = rng.choices(["Standard", "Agreement", "Miscellaneous"], weights=[6, 3, 1])[0]
    record = writes.build_invoice(state, {"type": kind, "company": {"id": company.id}, "status": {"name": "New"}})
    invoice = state.put_invoice(record, "added")
    for item in rng.sample(state.msp.catalog, rng.randint(1, 3)):
        state.add_product(invoice["id"], item, Decimal(rng.randint(1, 10)))
    return {"action": "new", "invoiceId": invoice["id"]}


def _procurement_change(state: CwState, rng: random.Random) -> dict[str, Any]:
    """Raise a purchase order, or change a quantity on an open one."""
    open_pos = [
        i
        for i in state.c["purchaseorders"].ids[-RECENT:]
        if state.c["purchaseorders"].by_id[i]["status"]["name"] == "Open" and state.lines_of.get(i)
    ]
    if not open_pos or rng.random() < 0.4:
        vendor = rng.choice([c for c in state.msp.companies if c.is_vendor])
        po = procurement.create_purchase_order(
            state, {"vendorCompany": {"id": vendor.id}, "locationId": rng.choice(state.msp.locations).id}
        )
        goods = [c for c in state.msp.catalog if c.product_class in ("Inventory", "NonInventory")]
        for item in rng.sample(goods, rng.randint(1, 3)):
            procurement.add_line(state, po["id"], item, Decimal(rng.randint(1, 10)))
        return {"action": "new_po", "purchaseOrderId": po["id"]}
    po_id = rng.choice(open_pos)
    line_id = rng.choice(state.lines_of[po_id])
    line = state.c["lineitems"].by_id[line_id]
    procurement.update_line(state, line_id, quantity=max(Decimal(1), line["quantity"] + rng.choice([-1, 1, 2])))
    return {"action": "po_quantity", "purchaseOrderId": po_id}


def run(state: CwState, stop: threading.Event, interval: float, rng: random.Random | None = None) -> None:
    """Mutate every `interval` seconds until `stop` is set (for the sandbox's entry point,
    in a thread of its own). A failed change is logged and the loop goes on."""
    rng = rng or random.Random()
    while not stop.wait(interval):
        try:
            change = mutate_once(state, rng)
            log.info("sandbox change: %s", change)
        except Exception:  # noqa: BLE001 - the demo must keep running whatever one change hit
            log.exception("sandbox change failed")


def start(
    state: CwState, interval: float, rng: random.Random | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Start the loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(state, stop, interval, rng), name="cw-mutator", daemon=True)
    thread.start()
    return thread, stop
