"""Each Xero organisation's catalog: account codes, tax rates (and which account
classes each may be used with), tracking categories and options, contacts.

Kept in Postgres so mapping and CSV import can check codes without calling
Xero; `refresh_catalog` reloads it from Xero through an httpx client the caller
has already authorised (Bearer token), with the organisation's tenant id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from .repository import record_change
from .xero_facts import parse_facts, store_facts

CONTACT_PAGE_SIZE = 1000
# Xero's TaxRate flags, by the account class (Account.Class) each allows.
APPLIES_TO_FLAGS = {
    "ASSET": "CanApplyToAssets",
    "EQUITY": "CanApplyToEquity",
    "EXPENSE": "CanApplyToExpenses",
    "LIABILITY": "CanApplyToLiabilities",
    "REVENUE": "CanApplyToRevenue",
}


@dataclass
class CatalogData:
    accounts: list[dict] = field(default_factory=list)  # code, name, class, status
    tax_rates: list[dict] = field(default_factory=list)  # tax_type, name, rate, applies_to, status
    tracking: list[dict] = field(default_factory=list)  # category, option, status
    contacts: list[dict] = field(default_factory=list)  # contact_id, contact_number, name, status

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("accounts", "tax_rates", "tracking", "contacts")}


def parse_accounts(body: dict) -> list[dict]:
    # Bank accounts may have no Code; nothing can be mapped to them by code anyway.
    return [
        {
            "code": a["Code"],
            "name": a.get("Name", ""),
            "class": a.get("Class", ""),
            "status": a.get("Status", "ACTIVE"),
            "type": a.get("Type", ""),
            "payments_enabled": a.get("Type") == "BANK" or bool(a.get("EnablePaymentsToAccount")),
        }
        for a in body.get("Accounts", [])
        if a.get("Code")
    ]


def parse_tax_rates(body: dict) -> list[dict]:
    out = []
    for t in body.get("TaxRates", []):
        rate = t.get("EffectiveRate", t.get("DisplayTaxRate"))
        out.append(
            {
                "tax_type": t["TaxType"],
                "name": t.get("Name", ""),
                "rate": Decimal(str(rate)) if rate is not None else None,
                "applies_to": [cls for cls, flag in APPLIES_TO_FLAGS.items() if t.get(flag)],
                "status": t.get("Status", "ACTIVE"),
            }
        )
    return out


def parse_tracking(body: dict) -> list[dict]:
    out = []
    for cat in body.get("TrackingCategories", []):
        for opt in cat.get("Options", []):
            active = cat.get("Status", "ACTIVE") == "ACTIVE" and opt.get("Status", "ACTIVE") == "ACTIVE"
            out.append({"category": cat["Name"], "option": opt["Name"], "status": "ACTIVE" if active else "ARCHIVED"})
    return out


def parse_contacts(body: dict) -> list[dict]:
    return [
        {
            "contact_id": c["ContactID"],
            "contact_number": c.get("ContactNumber") or None,
            "account_number": c.get("AccountNumber") or None,
            "name": c.get("Name", ""),
            "status": c.get("ContactStatus", "ACTIVE"),
        }
        for c in body.get("Contacts", [])
    ]


def _get(client: httpx.Client, path: str, tenant_id: str, **params) -> dict:
    resp = client.get(path, params=params or None, headers={"xero-tenant-id": tenant_id, "Accept": "application/json"})
    resp.raise_for_status()
    return json.loads(resp.text, parse_float=Decimal)  # tax rates are money-like: never float


def fetch_catalog(client: httpx.Client, tenant_id: str) -> CatalogData:
    data = CatalogData(
        accounts=parse_accounts(_get(client, "Accounts", tenant_id)),
        tax_rates=parse_tax_rates(_get(client, "TaxRates", tenant_id)),
        tracking=parse_tracking(_get(client, "TrackingCategories", tenant_id, includeArchived="true")),
    )
    page = 1
    while True:
        contacts = parse_contacts(_get(client, "Contacts", tenant_id, page=page, pageSize=CONTACT_PAGE_SIZE))
        data.contacts += contacts
        if len(contacts) < CONTACT_PAGE_SIZE:
            break
        page += 1
    return data


def store_catalog(conn, org_id: str, data: CatalogData, actor: str = "catalog") -> dict:
    """Replaces the organisation's catalog in the caller's transaction."""
    for table in ("xero_accounts", "xero_tax_rates", "xero_tracking_options", "xero_contacts"):
        conn.execute(f"delete from {table} where organisation_id = %s", (org_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into xero_accounts (organisation_id, code, name, class, status, type, payments_enabled)"
            " values (%s,%s,%s,%s,%s,%s,%s)",
            [
                (
                    org_id,
                    a["code"],
                    a["name"],
                    a["class"],
                    a["status"],
                    a.get("type", ""),
                    bool(a.get("payments_enabled")),
                )
                for a in data.accounts
            ],
        )
        cur.executemany(
            "insert into xero_tax_rates (organisation_id, tax_type, name, rate, applies_to, status) values "
            "(%s,%s,%s,%s,%s,%s)",
            [(org_id, t["tax_type"], t["name"], t["rate"], list(t["applies_to"]), t["status"]) for t in data.tax_rates],
        )
        cur.executemany(
            "insert into xero_tracking_options (organisation_id, category, option, status) values (%s,%s,%s,%s)"
            " on conflict do nothing",
            [(org_id, t["category"], t["option"], t["status"]) for t in data.tracking],
        )
        cur.executemany(
            "insert into xero_contacts (organisation_id, contact_id, contact_number, account_number, name, status)"
            " values (%s,%s,%s,%s,%s,%s) on conflict do nothing",
            [
                (org_id, c["contact_id"], c.get("contact_number"), c.get("account_number"), c["name"], c["status"])
                for c in data.contacts
            ],
        )
    counts = data.counts()
    # Recorded like any configuration change: the mapper reloads at the next record.
    record_change(conn, "catalog", org_id, "refresh", actor, None, counts)
    return counts


def refresh_catalog(client: httpx.Client, conn, org_id: str, tenant_id: str, actor: str = "catalog") -> dict:
    data = fetch_catalog(client, tenant_id)  # fetched first: a failed call changes nothing
    facts, described = parse_facts(_get(client, "Organisation", tenant_id), _get(client, "Currencies", tenant_id))
    with conn.transaction():
        counts = store_catalog(conn, org_id, data, actor)
        store_facts(conn, org_id, facts, described)
        return counts


def refresh_from_xero(settings, postgres_url: str, org_id: str, tenant_id: str, actor: str, recorder=None) -> dict:
    """Refreshes one organisation's catalog with its own credential. Tokens go
    through the same token manager as the writer, so a rotation is persisted
    exactly as it is there; every exchange is recorded when a recorder is given."""
    from ..common.db import connect
    from ..common.secrets import SecretBox, secret_key
    from ..integrations.xero.auth import PostgresTokenStore, TokenManager

    hooks = recorder.hooks() if recorder is not None else {}
    with httpx.Client(timeout=30, event_hooks=hooks) as http:
        tokens = TokenManager(
            PostgresTokenStore(postgres_url, SecretBox(secret_key(settings))),
            http,
            settings.xero_token_url,
            settings.xero_client_id,
            settings.xero_client_secret,
        )
        access = tokens.access_token(org_id)
        with (
            httpx.Client(
                base_url=settings.xero_url.rstrip("/") + "/",
                timeout=30,
                event_hooks=hooks,
                headers={"Authorization": f"Bearer {access}"},
            ) as client,
            connect(postgres_url, autocommit=True) as conn,
        ):
            return refresh_catalog(client, conn, org_id, tenant_id, actor)


def read_catalog(conn, org_id: str) -> dict:
    return {
        "accounts": conn.execute(
            "select code, name, class, status, type, payments_enabled from xero_accounts where organisation_id = %s "
            "order by code",
            (org_id,),
        ).fetchall(),
        "tax_rates": [
            dict(r, rate=str(r["rate"]) if r["rate"] is not None else None)
            for r in conn.execute(
                "select tax_type, name, rate, applies_to, status from xero_tax_rates where organisation_id = %s "
                "order by tax_type",
                (org_id,),
            )
        ],
        "tracking": conn.execute(
            "select category, option, status from xero_tracking_options where organisation_id = %s order by 1, 2",
            (org_id,),
        ).fetchall(),
        "contacts": conn.execute(
            "select contact_id, contact_number, account_number, name, status from xero_contacts where "
            "organisation_id = %s order by name",
            (org_id,),
        ).fetchall(),
    }
