"""The sandbox's operator: configures a fresh stack for the synthetic MSP, as an
operator would through the admin API: connect the Xero organisations, load
their catalogs, set their payment accounts, approve invoices on creation, and
import routing rules and mapping tables from CSV. Runs once: a stack whose admin
API already lists organisations is left as it is. Before that, on every start, it
sets what the Xero simulator keeps in memory only, as an accountant would in Xero's
settings: the New Zealand organisation takes NZD. It talks to the product only
through its public API, so the product never imports the sandbox:

    python -m services.sandbox.operator <stack.json | -> [--seed S] [--scale N]
"""

from __future__ import annotations

import csv
import io
import logging
import argparse
import json
import sys
from pathlib import Path

import httpx

from ..mapping.csv_io import COLUMNS
from .seed import generate
from ..common import sandbox_identity as identity
from .seed_model import Msp

log = logging.getLogger("connectzero.demo")
HOLDINGS_TAG = ("Xero Entity", "Holdings")
DEMO_BANK_ACCOUNT = "090"  # the sandbox organisations' business bank account
TAX_TYPES = {  # ConnectWise tax code -> (sales, purchases) Xero tax types
    "GST": ("OUTPUT", "INPUT"),
    "GST Free": ("EXEMPTOUTPUT", "EXEMPTEXPENSES"),
    "exempt": ("EXEMPTOUTPUT", "EXEMPTEXPENSES"),
    "GST NZ": ("OUTPUT2", "INPUT2"),  # the Auckland office's 15%
}
# Currencies each Xero organisation has enabled besides its base one (Settings > Currencies).
SANDBOX_CURRENCIES = {"auckland": ["NZD"]}


def demo_mapping_rows(msp: Msp) -> list[dict]:
    rows: list[dict] = [
        {
            "table": "routing_rules",
            "organisation_id": "holdings",
            "kind": "tag",
            "caption": HOLDINGS_TAG[0],
            "value": HOLDINGS_TAG[1],
        }
    ]
    rows += [
        {"table": "routing_rules", "organisation_id": loc.organisation, "kind": "location", "value": str(loc.id)}
        for loc in msp.locations
    ]
    rows.append({"table": "routing_rules", "organisation_id": "sydney", "kind": "default"})
    for org in identity.ORGANISATIONS:
        oid = org.short
        for item in msp.catalog:
            rows.append(
                {
                    "table": "accounts",
                    "organisation_id": oid,
                    "side": "sales",
                    "source": item.identifier,
                    "account_code": item.xero_account,
                }
            )
            rows.append(
                {
                    "table": "accounts",
                    "organisation_id": oid,
                    "side": "purchases",
                    "source": item.identifier,
                    "account_code": item.xero_cost_account,
                }
            )
            rows.append(
                {
                    "table": "tracking",
                    "organisation_id": oid,
                    "source_kind": "catalog_item",
                    "source": item.identifier,
                    "category": "Service Line",
                    "option": item.service_line,
                }
            )
        rows.append(
            {"table": "accounts", "organisation_id": oid, "side": "sales", "source": "*", "account_code": "200"}
        )
        rows.append(
            {"table": "accounts", "organisation_id": oid, "side": "purchases", "source": "*", "account_code": "310"}
        )
        for code, (sales, purchases) in TAX_TYPES.items():
            rows.append({"table": "tax", "organisation_id": oid, "side": "sales", "source": code, "tax_type": sales})
            rows.append(
                {"table": "tax", "organisation_id": oid, "side": "purchases", "source": code, "tax_type": purchases}
            )
        for loc in msp.locations:
            rows.append(
                {
                    "table": "tracking",
                    "organisation_id": oid,
                    "source_kind": "location",
                    "source": str(loc.id),
                    "category": "Region",
                    "option": loc.name,
                }
            )
    return rows


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def sandbox_refresh_token(info: dict, tenant_short: str) -> str:
    """The sandbox's stand-in for a user consenting in Xero: a code for one organisation, exchanged for tokens."""
    root = info["xero"]["token_url"].rsplit("/connect/token", 1)[0]
    code = httpx.get(f"{root}/_sandbox/authorize", params={"tenant": tenant_short}, timeout=10).json()["code"]
    resp = httpx.post(
        info["xero"]["token_url"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://localhost/callback"},
        auth=(info["xero"]["client_id"], info["xero"]["client_secret"]),
        timeout=10,
    )
    resp.raise_for_status()
    return resp.json()["refresh_token"]


def set_sandbox_books(info: dict) -> None:
    """The simulator's books settings (lost when it restarts): each organisation's currencies."""
    root = info["xero"]["token_url"].rsplit("/connect/token", 1)[0]
    for short, codes in SANDBOX_CURRENCIES.items():
        httpx.post(
            f"{root}/_sandbox/xero/books", json={"organisation": short, "currencies": codes}, timeout=10
        ).raise_for_status()


def configure_demo(info: dict, msp: Msp) -> bool:
    """Returns True when it configured the stack, False when it was configured already."""
    set_sandbox_books(info)
    admin = httpx.Client(
        base_url=info["admin"]["url"], timeout=60, headers={"Authorization": f"Bearer {info['admin']['token']}"}
    )
    with admin:
        if admin.get("/api/organisations").raise_for_status().json():
            return False
        for org in identity.ORGANISATIONS:
            admin.post(
                "/api/organisations",
                json={
                    "id": org.short,
                    "name": org.name,
                    "tenant_id": org.tenant_id,
                    "refresh_token": sandbox_refresh_token(info, org.short),
                    "scopes": "accounting.transactions accounting.contacts accounting.settings offline_access",
                },
            ).raise_for_status()
            admin.post(f"/api/organisations/{org.short}/catalog/refresh").raise_for_status()
            # ConnectWise payments and refunds go into the organisation's bank account.
            admin.put(
                f"/api/organisations/{org.short}", json={"payment_account_code": DEMO_BANK_ACCOUNT}
            ).raise_for_status()
        for record_type in ("invoice", "credit_note"):
            # Invoices are final when ConnectWise sends them, so money can be applied to them in Xero at once.
            admin.put(f"/api/settings/{record_type}", json={"create_status": "AUTHORISED"}).raise_for_status()
        resp = admin.post(
            "/api/mappings/import",
            params={"dry_run": "false"},
            content=to_csv(demo_mapping_rows(msp)),
            headers={"Content-Type": "text/csv"},
        )
        if resp.status_code >= 400:
            raise RuntimeError(f"demo mapping import refused ({resp.status_code}): {resp.text[:2000]}")
    log.info("configured the sandbox organisations, catalogs, payment accounts, routing rules and mappings")
    return True


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("stack_file", help="the stack.json that `connectzero up` wrote, or - to read it from stdin")
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--scale", type=int, default=1)
    given = args.parse_args(argv)
    info = json.loads(sys.stdin.read() if given.stack_file == "-" else Path(given.stack_file).read_text())
    try:
        configured = configure_demo(info, generate(given.seed, given.scale))
    except (httpx.HTTPError, RuntimeError) as exc:
        print(f"demo set-up failed: {exc}", file=sys.stderr)
        return 1
    print("configured" if configured else "already configured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
