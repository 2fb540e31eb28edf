"""The organisations as console pages show them beside records and money: name and currency."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.db import Conn


@dataclass(frozen=True)
class OrgLabel:
    id: str
    name: str
    currency: str | None  # the Xero organisation's base currency, when known


def organisation_labels(conn: Conn) -> dict[str, OrgLabel]:
    return {
        r["id"]: OrgLabel(r["id"], r["name"], r.get("base_currency"))
        for r in conn.execute("select * from organisations order by name")
    }
