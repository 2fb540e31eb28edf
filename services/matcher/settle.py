"""Settling ledger rows left in flight: did the ConnectWise call happen?

A ConnectWise payment has no free-text field to carry our mark, so an intent
records the highest payment id on the invoice before the call. ConnectWise ids
only grow, so a payment of ours can only be one created after that: of type
Payment, with the intent's amount and date, and not already claimed by another
row. Rows on one invoice are matched to such payments in the order they were
recorded (the order of the calls). When more payments fit than rows want them,
someone else entered the same money meanwhile: the product never picks one of
two, so those rows stay in flight and their payment waits for a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .ports import ConnectWise, CwPayment, InFlight, Ledger
from .xero_money import cents

log = logging.getLogger(__name__)
PAYMENT_TYPE = "Payment"


@dataclass
class Settlement:
    landed: list[tuple[int, int]] = field(default_factory=list)  # (row id, ConnectWise payment id)
    not_landed: list[int] = field(default_factory=list)  # applying rows whose call never happened
    removed: list[int] = field(default_factory=list)  # reversing rows whose payment is gone
    remove_again: list[InFlight] = field(default_factory=list)  # reversing rows whose payment is still there
    ambiguous: list[InFlight] = field(default_factory=list)


def assign(rows: list[InFlight], payments: list[CwPayment], claimed: set[int]) -> Settlement:
    """Pure: settles the in-flight rows of ONE invoice against its payments now."""
    result = Settlement()
    present = {p.id for p in payments}
    for row in rows:
        if row.state != "reversing":
            continue
        if row.cw_payment_id in present:
            result.remove_again.append(row)
        else:
            result.removed.append(row.row_id)
    applying = sorted((r for r in rows if r.state == "applying"), key=lambda r: r.row_id)
    groups: dict[tuple, list[InFlight]] = {}
    for row in applying:
        groups.setdefault((cents(row.amount), row.payment_date), []).append(row)
    for (amount, paid_on), group in groups.items():
        floor = min(r.max_before for r in group)
        fits = sorted(
            (
                p
                for p in payments
                if p.type == PAYMENT_TYPE
                and p.id > floor
                and p.id not in claimed
                and cents(p.amount) == amount
                and (paid_on is None or p.paid_on == paid_on)
            ),
            key=lambda p: p.id,
        )
        if len(fits) > len(group):
            result.ambiguous += group
            continue
        taken = iter(fits)
        for row in group:
            found = next(taken, None)
            if found is None:
                result.not_landed.append(row.row_id)
            else:
                result.landed.append((row.row_id, found.id))
    return result


def settle(rows: list[InFlight], ledger: Ledger, cw: ConnectWise) -> list[InFlight]:
    """Looks each row's invoice up in ConnectWise and records what happened;
    returns the rows that stay in flight (ambiguous)."""
    by_invoice: dict[int, list[InFlight]] = {}
    for row in rows:
        by_invoice.setdefault(row.cw_invoice_id, []).append(row)
    stuck: list[InFlight] = []
    for invoice_id, group in by_invoice.items():
        payments = cw.payments(invoice_id)
        outcome = assign(group, payments, ledger.claimed([p.id for p in payments]))
        for row in outcome.remove_again:
            assert row.cw_payment_id is not None  # found among the invoice's payments
            cw.remove(
                invoice_id,
                row.cw_payment_id,
                {"organisation_id": row.organisation_id, "record_id": row.xero_payment_id},
            )
            outcome.removed.append(row.row_id)
        ledger.applied(outcome.landed)
        ledger.forget(outcome.not_landed)
        ledger.reversed(outcome.removed)
        for row in outcome.ambiguous:
            log.warning(
                "Xero payment %s: more ConnectWise payments of %s on invoice %s than applications in flight; "
                "left for a person",
                row.xero_payment_id,
                row.amount,
                invoice_id,
            )
        stuck += outcome.ambiguous
        if outcome.landed or outcome.not_landed or outcome.removed:
            log.info(
                "settled invoice %s: %d applied, %d never landed, %d reversed",
                invoice_id,
                len(outcome.landed),
                len(outcome.not_landed),
                len(outcome.removed),
            )
    return stuck
