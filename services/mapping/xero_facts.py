"""What Xero says of an organisation beyond its catalog, read with it: its base currency
and lock dates (GET Organisation) and the currencies it has enabled (GET Currencies).

The mapper decides on them: a document in a currency the organisation has not enabled,
or dated inside a lock date, is never sent only to be refused. Lock dates move (an
accountant closes each month), so a refresh of the catalog reads them again.
"""

from __future__ import annotations

from datetime import date

from ..integrations.xero.client import xero_date
from .model import XeroFacts


def _day(value: object) -> date | None:
    text = xero_date(value) if value else None
    return date.fromisoformat(text) if text else None


def parse_facts(organisation_body: dict, currencies_body: dict) -> tuple[XeroFacts, dict[str, str]]:
    """(the facts, each enabled currency's description) from Xero's two answers."""
    organisation = (organisation_body.get("Organisations") or [{}])[0]
    described = {
        str(c["Code"]).upper(): str(c.get("Description") or "")
        for c in currencies_body.get("Currencies") or []
        if c.get("Code")
    }
    facts = XeroFacts(
        base_currency=organisation.get("BaseCurrency") or None,
        currencies=frozenset(described),
        period_lock_date=_day(organisation.get("PeriodLockDate")),
        end_of_year_lock_date=_day(organisation.get("EndOfYearLockDate")),
    )
    return facts, described


def store_facts(conn, org_id: str, facts: XeroFacts, described: dict[str, str]) -> None:
    """Replaces what is known of the organisation, in the caller's transaction."""
    conn.execute(
        "update organisations set base_currency = %s, period_lock_date = %s, end_of_year_lock_date = %s where id = %s",
        (facts.base_currency, facts.period_lock_date, facts.end_of_year_lock_date, org_id),
    )
    conn.execute("delete from xero_currencies where organisation_id = %s", (org_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into xero_currencies (organisation_id, code, description) values (%s, %s, %s)",
            [(org_id, code, described.get(code, "")) for code in sorted(facts.currencies)],
        )


def read_facts(conn, org_id: str) -> dict:
    row = (
        conn.execute(
            "select base_currency, period_lock_date, end_of_year_lock_date from organisations where id = %s", (org_id,)
        ).fetchone()
        or {}
    )
    currencies = conn.execute(
        "select code, description from xero_currencies where organisation_id = %s order by code", (org_id,)
    ).fetchall()
    return {
        "base_currency": row.get("base_currency"),
        "currencies": currencies,
        "period_lock_date": row.get("period_lock_date"),
        "end_of_year_lock_date": row.get("end_of_year_lock_date"),
    }
