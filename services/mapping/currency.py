"""The currency a document is written in, and the rate ConnectWise billed it at.

ConnectWise names an invoice's currency (`currency.currencyCode`) but keeps no
exchange rate of its own: an MSP billing in several currencies records the rate it
used on the invoice, in a custom field (`EXCHANGE_RATE_FIELD`), as a number of units
of the invoice's currency to one unit of the organisation's base currency, which is
how Xero's `CurrencyRate` reads. Xero takes a document in a currency other than its
base currency only when that currency is enabled in the organisation (Settings >
Currencies): one that is not is a `currency_not_enabled` problem naming it, never a
refused write. Without a recorded rate, Xero applies its own rate of the day.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .model import MappingProblem, XeroFacts

EXCHANGE_RATE_FIELD = "Exchange Rate"
RATE_PLACES = Decimal("0.000001")  # Xero keeps a rate to 6 decimals


def recorded_rate(record: dict) -> str | None:
    for field in record.get("custom_fields") or []:
        if str(field.get("caption") or "").strip().lower() == EXCHANGE_RATE_FIELD.lower():
            value = field.get("value")
            return None if value in (None, "") else str(value).strip()
    return None


def currency_fields(record: dict, facts: XeroFacts, org_id: str) -> dict | MappingProblem:
    """The element's CurrencyCode (and CurrencyRate), or the problem that stops it."""
    code = str(record.get("currency") or "").strip().upper()
    if not code:
        return {}
    if facts.base_currency is None or code == facts.base_currency.upper():
        return {"CurrencyCode": code}
    if code not in facts.currencies:
        enabled = ", ".join(sorted({facts.base_currency, *facts.currencies}))
        return MappingProblem(
            "currency_not_enabled",
            "currency",
            code,
            f"currency {code} is not enabled in Xero organisation {org_id} (it has {enabled}): add {code} under "
            "Settings > Currencies in Xero, refresh the organisation's catalog, then force-sync the record",
        )
    text = recorded_rate(record)
    if text is None:
        return {"CurrencyCode": code}
    try:
        rate = Decimal(text)
    except InvalidOperation:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        return MappingProblem(
            "bad_record",
            f"custom_fields.{EXCHANGE_RATE_FIELD}",
            text,
            f"the exchange rate {text!r} recorded in ConnectWise is not a number above zero",
        )
    return {"CurrencyCode": code, "CurrencyRate": format(rate.quantize(RATE_PLACES).normalize(), "f")}
