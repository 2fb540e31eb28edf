"""Money arriving in Xero over time, so payment matching meets every case:
full, partial, over (a payment for the amount due plus an Overpayment for the
rest) and unmatchable (a payment on a Xero-only invoice whose number and amount
match nothing in ConnectWise).

Each tick first applies the seed's payment plans whose invoice now exists in
its organisation (the product writes the invoices), then pays a few other
AUTHORISED sales invoices, rotating the kinds."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from . import payments as pay
from .state import Organisation, XeroState
from .totals import cents, recompute

KINDS = ("full", "partial", "over")


class PaymentsMutator:
    def __init__(self, state: XeroState, plans: list[Any] | None = None, seed: int = 7, per_tick: int = 2) -> None:
        self.state = state
        self.plans = list(plans or [])
        self.rng = random.Random(seed)
        self.per_tick = per_tick
        self._done: set[int] = set()
        self._turn = 0

    @staticmethod
    def _bank(org: Organisation) -> dict | None:
        return next((a for a in org.accounts.values() if a["Type"] == "BANK" and a["Status"] == "ACTIVE"), None)

    def tick(self, planned_only: bool = False) -> list[dict[str, Any]]:
        """One round of payments; returns what was done (for logs and tests). `planned_only`: the seed's
        plans alone, none of the other invoices (what a test on a shared sandbox can reason about)."""
        done: list[dict[str, Any]] = []
        with self.state.lock:
            by_short = {o.short: o for o in self.state.organisations.values()}
            for index, plan in enumerate(self.plans):
                if index in self._done or plan.organisation not in by_short:
                    continue
                org = by_short[plan.organisation]
                invoice = org.invoice_by_number(plan.invoice_number)
                if plan.kind == "unmatchable" and invoice is None:
                    invoice = self._xero_only_invoice(org, plan.invoice_number, plan.amount)
                if invoice is None or invoice["Status"] != "AUTHORISED" or invoice["Type"] != "ACCREC":
                    continue
                outcome = self.pay(org, invoice, plan.kind, plan.amount, plan.payment_date)
                if outcome:
                    self._done.add(index)
                    done.append(outcome)
            if planned_only:
                return done
            planned = {(p.organisation, p.invoice_number) for p in self.plans}
            candidates = [
                (org, inv)
                for org in self.state.organisations.values()
                for inv in org.invoices.values()
                if inv["Type"] == "ACCREC"
                and inv["Status"] == "AUTHORISED"
                and inv["AmountPaid"] == 0
                and (org.short, inv.get("InvoiceNumber")) not in planned
            ]
            candidates.sort(key=lambda pair: pair[1]["InvoiceID"])
            for org, invoice in self.rng.sample(candidates, min(self.per_tick, len(candidates))):
                kind = KINDS[self._turn % len(KINDS)]
                self._turn += 1
                outcome = self.pay(org, invoice, kind, None, None)
                if outcome:
                    done.append(outcome)
        return done

    def pay(
        self, org: Organisation, invoice: dict, kind: str, amount: Decimal | None, on: date | None
    ) -> dict[str, Any] | None:
        bank = self._bank(org)
        due = invoice["AmountDue"]
        if bank is None or due <= 0:
            return None
        on = on or self.state.clock.now().date()
        if kind == "partial":
            paid = cents(amount) if amount is not None and 0 < amount < due else cents(due / 2)
        elif kind == "over":
            paid = due
        else:
            paid = due
        reference = f"Payment {invoice.get('InvoiceNumber', '')}".strip()
        parts = {
            "kind": "invoice",
            "doc": invoice,
            "account": bank,
            "amount": paid,
            "date": on,
            "reference": reference,
            "is_reconciled": False,
        }
        payment = pay.apply_payment(self.state, org, parts)
        outcome = {
            "organisation": org.short,
            "invoiceNumber": invoice.get("InvoiceNumber"),
            "kind": kind,
            "paymentId": payment["PaymentID"],
            "amount": str(paid),
        }
        if kind == "over":
            extra = cents(amount - due) if amount is not None and amount > due else cents(max(due / 10, Decimal(1)))
            over = pay.record_overpayment(self.state, org, invoice["Contact"]["ContactID"], extra, bank, on, reference)
            outcome.update(overpaymentId=over["OverpaymentID"], overpaid=str(extra))
        return outcome

    def _xero_only_invoice(self, org: Organisation, number: str, amount: Decimal) -> dict | None:
        """An invoice raised directly in Xero (not from ConnectWise), AUTHORISED."""
        contact = next(iter(sorted(org.contacts.values(), key=lambda c: c["ContactID"])), None)
        revenue = next((a for a in org.accounts.values() if a["Class"] == "REVENUE" and a["Status"] == "ACTIVE"), None)
        if contact is None or revenue is None:
            return None
        now = self.state.clock.now()
        invoice: dict[str, Any] = {
            "InvoiceID": str(uuid.uuid4()),
            "Type": "ACCREC",
            "InvoiceNumber": number,
            "Contact": {"ContactID": contact["ContactID"]},
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "CurrencyCode": "AUD",
            "CurrencyRate": Decimal(1),
            "Date": now.date(),
            "DueDate": now.date(),
            "Reference": "Raised in Xero",
            "LineItems": [
                {
                    "LineItemID": str(uuid.uuid4()),
                    "Description": "Ad hoc sale",
                    "Quantity": Decimal(1),
                    "UnitAmount": cents(amount),
                    "AccountCode": revenue["Code"],
                    "Tracking": [],
                }
            ],
            "Payments": [],
            "CreditNotes": [],
            "Overpayments": [],
            "Prepayments": [],
            "HasAttachments": False,
            "IsDiscounted": False,
            "SentToContact": False,
            "AmountPaid": Decimal("0.00"),
            "AmountCredited": Decimal("0.00"),
            "UpdatedDateUTC": now,
        }
        recompute(invoice, org.tax_rates)
        org.put_invoice(invoice)
        self.state.notify(org.tenant_id, "INVOICE", invoice["InvoiceID"], "CREATE")
        return invoice
