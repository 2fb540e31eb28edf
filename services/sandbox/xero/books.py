"""What an organisation's books allow, as Xero publishes it: its base currency and the
currencies it has enabled (GET Currencies), documents in another currency at a
`CurrencyRate` (units of the document's currency to one of the base currency; Xero's
rate of the day when none is given), and its lock dates (GET Organisation's
`PeriodLockDate` and `EndOfYearLockDate`): nothing approved may be dated on or before
them. A control route sets these while the simulator runs, as an accountant would in
Xero's settings."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .api_support import Api
from .control import body, named_organisation
from .serialize import parse_date
from .state import Organisation

# Units of each currency to one US dollar: the simulator's "rate of the day".
UNITS_PER_USD = {
    "USD": Decimal("1"),
    "AUD": Decimal("1.52"),
    "NZD": Decimal("1.67"),
    "GBP": Decimal("0.79"),
    "EUR": Decimal("0.92"),
    "CAD": Decimal("1.37"),
    "SGD": Decimal("1.34"),
}
NAMES = {
    "USD": "United States Dollar",
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "GBP": "British Pound",
    "EUR": "Euro",
    "CAD": "Canadian Dollar",
    "SGD": "Singapore Dollar",
}
TIMEZONES = {"AU": "AUSEASTERNSTANDARDTIME", "NZ": "NEWZEALANDSTANDARDTIME"}


def day_rate(org: Organisation, code: str) -> Decimal:
    if code == org.base_currency or code not in UNITS_PER_USD:
        return Decimal(1)
    return (UNITS_PER_USD[code] / UNITS_PER_USD[org.base_currency]).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def lock_date(org: Organisation) -> tuple[date, str] | None:
    """The later lock date and its name: nothing approved may be dated on or before it."""
    locks = [
        (d, name)
        for d, name in (
            (org.end_of_year_lock_date, "end of year lock date"),
            (org.period_lock_date, "period lock date"),
        )
        if d is not None
    ]
    return max(locks, key=lambda pair: pair[0]) if locks else None


def document_errors(org: Organisation, doc: dict, existing: dict | None) -> list[str]:
    """The currency a document is written in, and its date against the lock dates."""
    errors: list[str] = []
    code = doc.get("CurrencyCode")
    if code is not None and code not in org.currencies:
        errors.append(f"The currency code '{code}' is not enabled for this organisation.")
    rate = doc.get("CurrencyRate")
    if rate is not None and rate <= 0:
        errors.append("CurrencyRate: must be greater than zero")
    status = doc.get("Status") or (existing or {}).get("Status") or "DRAFT"
    when = doc.get("Date") or (existing or {}).get("Date")
    locked = lock_date(org)
    if locked and status not in ("DRAFT", "DELETED", "VOIDED") and isinstance(when, date) and when <= locked[0]:
        errors.append(
            f"The document date cannot be before the {locked[1]}, currently set at {locked[0].strftime('%d-%b-%Y')}"
        )
    return errors


def settle_currency(org: Organisation, record: dict) -> None:
    """After a save: the document's currency (the base one unless named) and its rate."""
    record["CurrencyCode"] = record.get("CurrencyCode") or org.base_currency
    if record.get("CurrencyRate") is None or record["CurrencyCode"] == org.base_currency:
        record["CurrencyRate"] = day_rate(org, record["CurrencyCode"])


def organisation_element(org: Organisation) -> dict[str, Any]:
    element = {
        "OrganisationID": org.tenant_id,
        "APIKey": "",
        "Name": org.name,
        "LegalName": org.name,
        "PaysTax": True,
        "Version": org.country,
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31 if org.country == "NZ" else 30,
        "FinancialYearEndMonth": 3 if org.country == "NZ" else 6,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "TWOMONTHS" if org.country == "NZ" else "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Inclusive",
        "CreatedDateUTC": org.created,
        "OrganisationEntityType": "COMPANY",
        "Timezone": TIMEZONES.get(org.country, TIMEZONES["AU"]),
        "ShortCode": "!" + org.short[:5],
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }
    # "Shown if set" (the published Organisation): a lock date appears only when there is one.
    if org.period_lock_date:
        element["PeriodLockDate"] = org.period_lock_date
    if org.end_of_year_lock_date:
        element["EndOfYearLockDate"] = org.end_of_year_lock_date
    return element


def add_books_routes(api: APIRouter, h: Api) -> None:
    @api.get("/Currencies")
    async def list_currencies(request: Request) -> Response:
        the_org = h.org(request)
        records = [{"Code": code, "Description": name} for code, name in the_org.currencies.items()]
        return h.listing(request, "Currencies", records, "Code", pageable=False)


def books_control_router(runtime: Any) -> APIRouter:
    """POST /_sandbox/xero/books {"organisation", "period_lock_date", "end_of_year_lock_date", "currencies"}:
    a date (YYYY-MM-DD) or null clears it; currencies lists the codes enabled besides the base one."""
    api = APIRouter(prefix="/_sandbox/xero")
    state = runtime.state

    @api.post("/books")
    async def books(request: Request) -> JSONResponse:
        try:
            data = await body(request)
            org = named_organisation(state, data)
            with state.lock:
                for name in ("period_lock_date", "end_of_year_lock_date"):
                    if name in data:
                        setattr(org, name, None if data[name] is None else parse_date(data[name], name))
                if "currencies" in data:
                    codes = [str(c).upper() for c in data["currencies"] or []]
                    unknown = [c for c in codes if c not in NAMES]
                    if unknown:
                        raise ValueError(f"currencies: {unknown[0]} is not one of {', '.join(sorted(NAMES))}")
                    org.currencies = {c: NAMES[c] for c in [org.base_currency, *codes]}
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "organisation": org.short,
                "base_currency": org.base_currency,
                "currencies": sorted(org.currencies),
                "period_lock_date": org.period_lock_date and org.period_lock_date.isoformat(),
                "end_of_year_lock_date": org.end_of_year_lock_date and org.end_of_year_lock_date.isoformat(),
            }
        )

    return api
