"""Money under an invoice, as ConnectWise publishes it: `finance/invoices/{id}/payments`
lists Payment records {id, type, invoice{id, identifier}, credit{id, identifier}, amount,
paymentDate, appliedBy, _info}. Three kinds, every amount positive:

- "Payment": money received, listed under the invoice it pays; raises the invoice's
  `payments`.
- "Credit Memo": a credit memo applied to an invoice, listed under the TARGET invoice with
  `credit` naming the memo; raises the target's `credits` and uses up the memo's credit.
- "Refund": money paid back to the customer against a credit memo, listed under the MEMO;
  uses up the memo's credit.

Every invoice keeps `balance = total - payments - credits`. A credit memo carries the sign
of its negative total throughout: its `payments` is minus its refunds, its `credits` minus
the credit applied from it to other invoices, so its `balance` is minus the credit it still
has to give (a memo of -110.00 with 60.00 applied and 20.00 refunded: payments -20.00,
credits -60.00, balance -30.00). A memo or invoice whose balance reaches zero is Paid.

The rules here are pure; the state (state.py) keeps the records and calls them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from ..seed_model import CREDIT_APPLIED, PAYMENT, REFUND, money
from .errors import CwError, invalid, missing
from .store import Record

RESOURCE = "InvoicePayment"
CREDIT_MEMO = "CreditMemo"
ZERO = Decimal("0.00")
_TYPES = {"payment": PAYMENT, "credit memo": CREDIT_APPLIED, "creditmemo": CREDIT_APPLIED, "refund": REFUND}


def payment_type(given: str | None, credit_id: int | None) -> str:
    """The published spelling of a payment type; a `credit` without a type is a credit application."""
    if given is None or not str(given).strip():
        return CREDIT_APPLIED if credit_id is not None else PAYMENT
    found = _TYPES.get(str(given).strip().lower())
    if found is None:
        raise invalid(RESOURCE, "type", f"type must be one of {PAYMENT}, {CREDIT_APPLIED}, {REFUND}; got {given!r}")
    return found


def remaining_credit(memo: Record) -> Decimal:
    """What a credit memo can still give (its balance with the sign turned)."""
    return -memo["balance"]


def money_fields(invoice: Record, listed: Iterable[Record], applied: Iterable[Record]) -> tuple[Decimal, Decimal]:
    """(payments, credits) of an invoice from the payments listed under it and, for a
    credit memo, the credit applications drawn from it (see the module docstring)."""
    listed = list(listed)
    if invoice["type"] == CREDIT_MEMO:
        refunded = sum((p["amount"] for p in listed), ZERO)
        return money(-refunded), money(-sum((p["amount"] for p in applied), ZERO))
    received = sum((p["amount"] for p in listed if not p.get("credit")), ZERO)
    credited = sum((p["amount"] for p in listed if p.get("credit")), ZERO)
    return money(received), money(credited)


def check(invoice: Record, kind: str, amount: Decimal, memo: Record | None) -> None:
    """Refuse, with a 400 naming the field, what ConnectWise would refuse: a payment or a
    credit above the invoice's balance, a credit or refund above the memo's remaining
    credit, a refund against anything but a credit memo, a credit from anything but an
    open credit memo of the same company."""
    if amount <= 0:
        raise invalid(RESOURCE, "amount", "amount must be greater than zero")
    if invoice["type"] == CREDIT_MEMO:
        if kind != REFUND:
            raise invalid(
                RESOURCE,
                "type",
                f"a credit memo takes only refunds (type {REFUND}); to use its "
                f"credit, post a {CREDIT_APPLIED} payment on the invoice it settles",
            )
        if amount > remaining_credit(invoice):
            raise invalid(
                RESOURCE,
                "amount",
                f"refund amount {amount} exceeds the credit memo's remaining credit {remaining_credit(invoice)}",
            )
        return
    if kind == REFUND:
        raise invalid(
            RESOURCE, "type", f"only a credit memo can be refunded; invoice {invoice['id']} is {invoice['type']}"
        )
    if kind == CREDIT_APPLIED:
        if memo is None:
            raise missing(RESOURCE, "credit")
        _check_memo(invoice, memo, amount)
    if amount > invoice["balance"]:
        what = "credit" if kind == CREDIT_APPLIED else "payment"
        raise invalid(RESOURCE, "amount", f"{what} amount {amount} exceeds the invoice balance {invoice['balance']}")


def _check_memo(invoice: Record, memo: Record, amount: Decimal) -> None:
    if memo["type"] != CREDIT_MEMO:
        raise invalid(RESOURCE, "credit", f"invoice {memo['id']} is {memo['type']}, not a credit memo")
    if memo["status"]["name"] == "Void":
        raise invalid(RESOURCE, "credit", f"credit memo {memo['id']} is void")
    if memo["company"]["id"] != invoice["company"]["id"]:
        raise invalid(
            RESOURCE,
            "credit",
            f"credit memo {memo['id']} belongs to company {memo['company']['id']}, "
            f"not to the invoice's company {invoice['company']['id']}",
        )
    if amount > remaining_credit(memo):
        raise invalid(
            RESOURCE,
            "amount",
            f"credit amount {amount} exceeds the credit memo's remaining credit {remaining_credit(memo)}",
        )


def credit_id_of(body: dict) -> int | None:
    """The memo id of a request's `credit` reference ({id} or a bare id)."""
    value = body.get("credit")
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(RESOURCE, "credit", "credit must be a reference to a credit memo with a numeric id")
    return value


def not_a_memo(memo_id: int) -> CwError:
    return invalid(RESOURCE, "credit", f"credit memo {memo_id} does not exist")
