"""The audit log's search filters as documented query parameters: the contract
between the audit service and the admin API's proxy, so `/docs` describes both
the same way."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from .record_kinds import RECORD_TYPES

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def audit_filters(
    from_: Annotated[
        str | None, Query(alias="from", description="Entries at or after this UTC date or date-time (ISO 8601).")
    ] = None,
    to: Annotated[
        str | None, Query(description="Entries before this date-time; a bare date includes that whole day.")
    ] = None,
    record_type: Annotated[str | None, Query(description=f"One of {', '.join(RECORD_TYPES)}.")] = None,
    customer: Annotated[
        str | None, Query(description="Part of the customer (or vendor, or Xero contact) name, any case.")
    ] = None,
    organisation: Annotated[str | None, Query(description="Organisation id, exactly.")] = None,
    status: Annotated[
        str | None,
        Query(description="Comma-separated: HTTP status (429), class (5xx), or outcome (FAILED, EXCEPTION)."),
    ] = None,
    api: Annotated[
        str | None, Query(description="xero or connectwise: exchanges with that API only; none: events only.")
    ] = None,
    record_id: Annotated[
        str | None, Query(description="The record's id (ConnectWise id, or Xero PaymentID), exactly.")
    ] = None,
    q: Annotated[
        str | None, Query(description="Words that must all appear in the summary, URL, bodies, error or payload.")
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[str | None, Query(description=f"Entries per page, 1 to {MAX_LIMIT} (default 100).")] = None,
) -> dict[str, str]:
    raw = {
        "from": from_,
        "to": to,
        "record_type": record_type,
        "customer": customer,
        "organisation": organisation,
        "status": status,
        "api": api,
        "record_id": record_id,
        "q": q,
        "cursor": cursor,
        "limit": limit,
    }
    return {k: v for k, v in raw.items() if v is not None}
