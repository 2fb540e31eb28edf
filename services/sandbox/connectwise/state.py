"""The ConnectWise simulator's in-memory state: every resource as a Collection,
loaded from the synthetic MSP, changed only through the methods here so that
totals stay derived, `_info.lastUpdated` is bumped and listeners (callbacks)
hear of every change.

The clock is injectable (`clock` returns an aware UTC datetime) so tests can
move time. One re-entrant lock guards everything: request handlers and the
mutator thread both go through it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from .. import seed as seed_module
from ..seed_model import CatalogItem, Msp, money
from . import money as cash
from . import records as r
from .errors import invalid, not_found
from .store import Collection, Record

Clock = Callable[[], datetime]
Listener = Callable[[str, str, Record], None]  # (callback type, action, record)
ZERO = Decimal("0.00")
Aliases = dict[tuple[str, ...], tuple[str, ...]]  # a condition's field path -> the record's path
_LAST_UPDATED: Aliases = {("lastupdated",): ("_info", "lastUpdated")}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CwState:
    def __init__(self, msp: Msp, clock: Clock = utc_now):
        self.msp, self.clock = msp, clock
        self.lock = threading.RLock()
        self.catalog: dict[int, CatalogItem] = {c.id: c for c in msp.catalog}
        self.tax_rates = {t.id: t.rate for t in msp.tax_codes}
        names = (
            "invoices",
            "products",
            "payments",
            "purchaseorders",
            "lineitems",
            "companies",
            "members",
            "locations",
            "departments",
            "callbacks",
        )
        indexed = {
            "invoices": (("invoiceNumber",), ("company", "id")),
            "products": (("invoice", "id"),),
            "payments": (("invoice", "id"),),
            "lineitems": (("purchaseOrderId",),),
            "purchaseorders": (("poNumber",),),
            "companies": (("identifier",),),
        }
        aliases: dict[str, Aliases] = {
            "payments": {("credit", "id"): ("credit", "id"), ("credit", "identifier"): ("credit", "identifier")}
        }
        self.c: dict[str, Collection] = {
            n: Collection(n, {**_LAST_UPDATED, **aliases.get(n, {})}, (("id",),) + indexed.get(n, ())) for n in names
        }
        self.products_of: dict[int, list[int]] = {}
        self.payments_of: dict[int, list[int]] = {}  # invoice id -> ids of the payments listed under it
        self.applied_from: dict[int, list[int]] = {}  # credit memo id -> ids of the credit applied from it
        self.lines_of: dict[int, list[int]] = {}
        self.listeners: list[Listener] = []
        self.next_ids: dict[str, int] = {}
        self._load(msp)

    @classmethod
    def from_seed(cls, seed: int, scale: int, clock: Clock = utc_now) -> "CwState":
        return cls(seed_module.generate(seed, scale), clock)

    # --- time and ids -------------------------------------------------------
    def now(self) -> datetime:
        """The clock at whole seconds, as ConnectWise stamps records."""
        return self.clock().astimezone(timezone.utc).replace(microsecond=0)

    def new_id(self, kind: str) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value

    # --- loading ------------------------------------------------------------
    def _load(self, msp: Msp) -> None:
        start = min([i.updated_at for i in msp.invoices] + [p.updated_at for p in msp.purchase_orders])
        for loc in msp.locations:
            self.c["locations"].put(r.location(loc, start))
        for dep in msp.departments:
            self.c["departments"].put(r.department(dep, start))
        for mem in msp.members:
            self.c["members"].put(r.member(mem, msp, start))
        for co in msp.companies:
            self.c["companies"].put(r.company(co, msp, start))
        companies = self.c["companies"].by_id
        for inv in msp.invoices:
            record = r.invoice(inv, msp, companies)
            self.c["invoices"].put(record)
            self.products_of[inv.id] = []
            for seq, line in enumerate(inv.lines, start=1):
                self._put_child("products", self.products_of, inv.id, r.product(line, seq, record, self.catalog))
        for pay in msp.payments:
            paid = self.c["invoices"].by_id[pay.invoice_id]
            memo = self.c["invoices"].by_id[pay.credit_id] if pay.credit_id is not None else None
            stamp = max(paid["_info"]["lastUpdated"], r.at_midnight(pay.payment_date))
            self._put_child("payments", self.payments_of, paid["id"], r.payment(pay, paid, stamp, memo))
            if memo is not None:
                self.applied_from.setdefault(memo["id"], []).append(pay.id)
        for inv_id in list(self.c["invoices"].ids):
            self._recompute(inv_id, self.c["invoices"].by_id[inv_id]["_info"]["lastUpdated"])
        line_id = 1
        for po in msp.purchase_orders:
            self.c["purchaseorders"].put(r.purchase_order(po, companies))
            self.lines_of[po.id] = []
            for po_line in po.lines:
                self._put_child(
                    "lineitems",
                    self.lines_of,
                    po.id,
                    r.po_line(po_line, line_id, po, self.catalog[po_line.catalog_item_id]),
                )
                line_id += 1
        self.next_ids = {
            "invoices": msp.next_ids["invoice"],
            "products": msp.next_ids["line"],
            "payments": msp.next_ids["payment"],
            "purchaseorders": msp.next_ids["purchase_order"],
            "lineitems": line_id,
            "callbacks": 1,
            "invoiceNumber": msp.next_ids["invoice_number"],
        }

    def _put_child(self, name: str, index: dict[int, list[int]], parent: int, record: Record) -> None:
        self.c[name].put(record)
        index.setdefault(parent, []).append(record["id"])

    # --- derived totals -----------------------------------------------------
    def _recompute(self, invoice_id: int, stamp: datetime) -> Record:
        """Replace the invoice with its totals derived from its products and payments."""
        inv = dict(self.c["invoices"].by_id[invoice_id])
        products = [self.c["products"].by_id[p] for p in self.products_of.get(invoice_id, [])]
        subtotal = money(sum((p["extPrice"] for p in products), ZERO))
        taxable = sum((p["extPrice"] for p in products if p["taxableFlag"]), ZERO)
        tax = money(taxable * self.tax_rates.get(inv["taxCode"]["id"], ZERO) / 100)
        pays = self.c["payments"].by_id
        paid, credited = cash.money_fields(
            inv,
            (pays[p] for p in self.payments_of.get(invoice_id, [])),
            (pays[p] for p in self.applied_from.get(invoice_id, [])),
        )
        total = subtotal + tax
        inv.update(
            subtotal=subtotal,
            salesTax=tax,
            total=total,
            payments=paid,
            credits=credited,
            balance=total - paid - credited,
            _info={**inv["_info"], "lastUpdated": stamp},
        )
        self.c["invoices"].put(inv)
        return inv

    # --- changes ------------------------------------------------------------
    def notify(self, kind: str, action: str, record: Record) -> None:
        for listener in list(self.listeners):
            listener(kind, action, record)

    def require(self, name: str, record_id: int, resource: str) -> Record:
        record = self.c[name].get(record_id)
        if record is None:
            raise not_found(resource, record_id)
        return record

    def put_invoice(self, record: Record, action: str) -> Record:
        """Store an invoice built from a request (totals derived here) and announce it."""
        with self.lock:
            self.c["invoices"].put(record)
            self.products_of.setdefault(record["id"], [])
            self.payments_of.setdefault(record["id"], [])
            inv = self._recompute(record["id"], self.now())
            self.notify("Invoice", action, inv)
            return inv

    def delete_invoice(self, invoice_id: int) -> None:
        with self.lock:
            inv = self.require("invoices", invoice_id, "Invoice")
            if self.payments_of.get(invoice_id):
                raise invalid(
                    "Invoice", "payments", "an invoice with payments applied cannot be deleted", "InvalidObject"
                )
            if self.applied_from.get(invoice_id):
                raise invalid(
                    "Invoice", "credits", "a credit memo applied to an invoice cannot be deleted", "InvalidObject"
                )
            for pid in self.products_of.pop(invoice_id, []):
                self.c["products"].remove(pid)
            self.payments_of.pop(invoice_id, None)
            self.applied_from.pop(invoice_id, None)
            self.c["invoices"].remove(invoice_id)
            self.notify("Invoice", "deleted", inv)

    def set_invoice_status(self, invoice_id: int, status: str) -> Record:
        with self.lock:
            inv = dict(self.require("invoices", invoice_id, "Invoice"))
            inv["status"] = {"id": r.INVOICE_STATUSES[status], "name": status}
            return self.put_invoice(inv, "updated")

    def add_product(
        self,
        invoice_id: int,
        item: CatalogItem,
        quantity: Decimal,
        price: Decimal | None = None,
        description: str | None = None,
    ) -> Record:
        with self.lock:
            inv = self.require("invoices", invoice_id, "Invoice")
            stamp = self.now()
            seq = len(self.products_of.get(invoice_id, [])) + 1
            sign = -1 if inv["type"] == "CreditMemo" else 1
            product = r.product_from(
                self.new_id("products"),
                item,
                seq,
                description or item.description,
                quantity,
                item.price * sign if price is None else price,
                item.cost * sign,
                item.taxable,
                inv,
                stamp,
            )
            self._put_child("products", self.products_of, invoice_id, product)
            self.notify("Product", "added", product)
            self.put_invoice(self.c["invoices"].by_id[invoice_id], "updated")
            return product

    def update_product(self, product_id: int, quantity: Decimal | None = None, price: Decimal | None = None) -> Record:
        with self.lock:
            product = dict(self.require("products", product_id, "ProductItem"))
            if quantity is not None:
                product["quantity"] = quantity
            if price is not None:
                product["price"] = price
            product["extPrice"] = money(product["quantity"] * product["price"])
            product["extCost"] = money(product["quantity"] * product["cost"])
            product["_info"] = {**product["_info"], "lastUpdated": self.now()}
            self.c["products"].put(product)
            self.notify("Product", "updated", product)
            self.put_invoice(self.c["invoices"].by_id[product["invoice"]["id"]], "updated")
            return product

    def delete_product(self, product_id: int) -> None:
        with self.lock:
            product = self.require("products", product_id, "ProductItem")
            invoice_id = product["invoice"]["id"]
            self.products_of[invoice_id].remove(product_id)
            self.c["products"].remove(product_id)
            self.notify("Product", "deleted", product)
            self.put_invoice(self.c["invoices"].by_id[invoice_id], "updated")

    def add_payment(
        self,
        invoice_id: int,
        amount: Decimal,
        payment_date: datetime,
        kind: str | None = "Payment",
        applied_by: str = "accounts",
        credit_id: int | None = None,
    ) -> Record:
        """Record money under an invoice (see money.py): a payment, a credit memo applied
        (`credit_id` names the memo) or a refund against a credit memo. What ConnectWise
        refuses (above the balance, above the memo's remaining credit...) is a 400."""
        with self.lock:
            inv = self.require("invoices", invoice_id, "Invoice")
            kind = cash.payment_type(kind, credit_id)
            if credit_id is not None and kind != cash.CREDIT_APPLIED:
                raise invalid(cash.RESOURCE, "credit", f"credit names a credit memo to apply; a {kind} has none")
            memo = None
            if kind == cash.CREDIT_APPLIED and credit_id is not None:
                memo = self.c["invoices"].get(credit_id)
                if memo is None:
                    raise cash.not_a_memo(credit_id)
            cash.check(inv, kind, amount, memo)
            now = self.now()
            payment: Record = {
                "id": self.new_id("payments"),
                "type": kind,
                "invoice": r.invoice_ref(inv),
                "credit": r.invoice_ref(memo) if memo else None,
                "amount": amount,
                "paymentDate": payment_date,
                "appliedBy": applied_by,
                "_info": r.info(now),
            }
            self._put_child("payments", self.payments_of, invoice_id, payment)
            if memo is not None:
                self.applied_from.setdefault(memo["id"], []).append(payment["id"])
            self._settle(invoice_id, now)
            if memo is not None:
                self._settle(memo["id"], now)
            return payment

    def delete_payment(self, invoice_id: int, payment_id: int) -> None:
        """Remove a payment, credit application or refund; the balances it moved are restored
        (and an invoice it had settled is open again)."""
        with self.lock:
            payment = self.require("payments", payment_id, "InvoicePayment")
            if payment["invoice"]["id"] != invoice_id:
                raise not_found("InvoicePayment", payment_id)
            self.payments_of[invoice_id].remove(payment_id)
            self.c["payments"].remove(payment_id)
            now = self.now()
            memo_id = (payment.get("credit") or {}).get("id")
            if memo_id is not None and payment_id in self.applied_from.get(memo_id, []):
                self.applied_from[memo_id].remove(payment_id)
                self._settle(memo_id, now)
            self._settle(invoice_id, now)

    def _settle(self, invoice_id: int, stamp: datetime) -> None:
        """Recompute an invoice after its money moved: Paid at a zero balance, Sent again
        when a removed payment reopens a Paid one. Announced as an update."""
        updated = self._recompute(invoice_id, stamp)
        status = updated["status"]["name"]
        if updated["balance"] == 0 and status != "Paid":
            status = "Paid"
        elif updated["balance"] != 0 and status == "Paid":
            status = "Sent"
        if status != updated["status"]["name"]:
            updated = {**updated, "status": {"id": r.INVOICE_STATUSES[status], "name": status}}
            self.c["invoices"].put(updated)
        self.notify("Invoice", "updated", updated)

    def add_callback(self, callback: Record) -> Record:
        with self.lock:
            record = {**callback, "id": self.new_id("callbacks"), "_info": r.info(self.now())}
            self.c["callbacks"].put(record)
            return record

    def delete_callback(self, callback_id: int) -> None:
        with self.lock:
            self.require("callbacks", callback_id, "Callback")
            self.c["callbacks"].remove(callback_id)
