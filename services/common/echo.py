"""No echo: money this product moved is never moved again the other way.

One rule for both directions. A Xero payment the writer creates from a
ConnectWise payment or refund carries a mark in its `Reference` and is kept in
the writer's ledger (`xero_ledger`, by its PaymentID); the matcher skips a Xero
payment that has either. A ConnectWise payment the matcher creates is kept in
the matcher's ledger (`cw_payment_applications`, by its ConnectWise id); the
mapper skips it. The mark covers the moment between Xero saving a payment and
the writer's ledger storing its id (a crash there); on the ConnectWise side,
where a payment has no free-text field, the matcher records its intent before
the call, and a ConnectWise payment on an invoice with an application in flight
waits until the matcher has settled which payment it made.
"""

from __future__ import annotations

import re

from .db import Conn

_MARK = re.compile(r"\[cz:(payment|refund):(\d+)\]")
REFERENCE_LIMIT = 255  # Xero's Reference length


def xero_reference(kind: str, cw_id: int | str, text: str = "") -> str:
    """The Reference of a Xero payment written for ConnectWise `kind` `cw_id`: readable text, then the mark."""
    mark = f"[cz:{kind}:{int(cw_id)}]"
    text = text.strip()[: REFERENCE_LIMIT - len(mark) - 1]
    return f"{text} {mark}" if text else mark


def marked_source(reference: str | None) -> tuple[str, int] | None:
    """(kind, ConnectWise id) of a Reference this product wrote, else None."""
    found = _MARK.search(reference or "")
    return (found.group(1), int(found.group(2))) if found else None


def written_by_writer(conn: Conn, organisation_id: str, xero_payment_id: str) -> bool:
    """Whether the writer created this Xero payment (from ConnectWise money)."""
    row = conn.execute(
        "select 1 from xero_ledger where organisation_id = %s and xero_id = %s"
        " and record_type in ('payment', 'refund') limit 1",
        (organisation_id, xero_payment_id),
    ).fetchone()
    return row is not None


def payments_written_by_writer(conn: Conn, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """`written_by_writer` for a batch of (organisation id, Xero PaymentID), in one query."""
    if not keys:
        return set()
    rows = conn.execute(
        "select distinct organisation_id, xero_id from xero_ledger where record_type in ('payment', 'refund')"
        " and (organisation_id, xero_id) in (select * from unnest(%s::text[], %s::text[]))",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(r["organisation_id"], r["xero_id"]) for r in rows}


def created_by_matcher(conn: Conn, cw_payment_id: int | str) -> bool:
    """Whether the matcher created this ConnectWise payment (from a Xero payment)."""
    row = conn.execute(
        "select 1 from cw_payment_applications where cw_payment_id = %s limit 1", (int(cw_payment_id),)
    ).fetchone()
    return row is not None


def matcher_in_flight(conn: Conn, cw_invoice_id: int | str) -> bool:
    """Whether the matcher has an application on this invoice whose ConnectWise payment it
    has not settled yet: a new ConnectWise payment there may be its own, so it waits."""
    row = conn.execute(
        "select 1 from cw_payment_applications where cw_invoice_id = %s and state in ('applying', 'reversing') limit 1",
        (int(cw_invoice_id),),
    ).fetchone()
    return row is not None
