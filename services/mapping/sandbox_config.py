"""The configuration that makes the sandbox's synthetic MSP sync: its three Xero
organisations connected through the simulator's sign-in, their catalogs loaded
from the simulator, and routing rules and mappings that express the MSP's
routing intent (see services/sandbox/seed.py), imported as a CSV file like
any other. Organisations that already exist are left as they are.

    python -m services.mapping.sandbox_config    (with the stack's CZ_ settings)
"""
from __future__ import annotations

import csv
import io

from ..common.db import connect
from ..common.secrets import SecretBox, secret_key
from ..common.settings import Settings
from . import catalog as catalog_store
from . import repository as repo
from .csv_io import COLUMNS, import_csv

# Where a purchase with no catalog item (freight, say) and a sale of anything unlisted go.
PURCHASES_FALLBACK = "310"
SALES_FALLBACK = "200"
EXEMPT = {"sales": "EXEMPTOUTPUT", "purchases": "EXEMPTEXPENSES"}


def sandbox_csv() -> str:
    from ..sandbox.identity import ORGANISATIONS
    from ..sandbox.seed import CATALOG, LOCATIONS, TAX_CODES

    rows: list[dict] = [{"table": "routing_rules", "kind": "tag", "caption": "Xero Entity", "value": "Holdings",
                         "organisation_id": "holdings"}]
    rows += [{"table": "routing_rules", "kind": "location", "value": str(loc.id), "organisation_id": loc.organisation}
             for loc in LOCATIONS]
    for org in (o.short for o in ORGANISATIONS):
        base = {"organisation_id": org}
        for identifier, _desc, _cls, _price, _cost, account, cost_account, _line in CATALOG:
            rows.append({"table": "accounts", **base, "side": "sales", "source": identifier, "account_code": account})
            rows.append({"table": "accounts", **base, "side": "purchases", "source": identifier, "account_code": cost_account})
            rows.append({"table": "tracking", **base, "source_kind": "catalog_item", "source": identifier,
                         "category": "Service Line", "option": _line})
        rows.append({"table": "accounts", **base, "side": "sales", "source": "*", "account_code": SALES_FALLBACK})
        rows.append({"table": "accounts", **base, "side": "purchases", "source": "*", "account_code": PURCHASES_FALLBACK})
        for code in TAX_CODES:
            rows.append({"table": "tax", **base, "side": "sales", "source": code.name, "tax_type": code.xero_sales_tax_type})
            rows.append({"table": "tax", **base, "side": "purchases", "source": code.name, "tax_type": code.xero_purchase_tax_type})
        for side, tax_type in EXEMPT.items():
            rows.append({"table": "tax", **base, "side": side, "source": "exempt", "tax_type": tax_type})
        rows += [{"table": "tracking", **base, "source_kind": "location", "source": str(loc.id), "category": "Region",
                  "option": loc.name} for loc in LOCATIONS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def configure_sandbox(settings: Settings, xero_root: str, actor: str = "sandbox") -> dict:
    """Connects, loads catalogs and imports the mappings; returns what was done."""
    from ..sandbox.identity import ORGANISATIONS
    from ..sandbox.xero.serve import sign_in

    box = SecretBox(secret_key(settings))
    done = {"connected": [], "catalogs": {}, "imported": {}}
    with connect(settings.postgres_url, autocommit=True) as conn:
        existing = {o["id"] for o in repo.list_organisations(conn)}
        missing = [o for o in ORGANISATIONS if o.short not in existing]
        if missing:
            # One sign-in reaches all three organisations; they share its rotation chain.
            refresh_token = sign_in(xero_root)["refresh_token"]
            for org in missing:
                with conn.transaction():
                    repo.create_organisation(conn, {"id": org.short, "name": org.name, "tenant_id": org.tenant_id,
                                                    "refresh_token": refresh_token}, box, actor)
                done["connected"].append(org.short)
    for org in ORGANISATIONS:
        done["catalogs"][org.short] = catalog_store.refresh_from_xero(
            settings, settings.postgres_url, org.short, org.tenant_id, actor)
    with connect(settings.postgres_url, autocommit=True) as conn:
        parsed, counts, _ = import_csv(conn, sandbox_csv(), actor, dry_run=False)
    if parsed.errors:
        raise ValueError("sandbox mappings rejected: " + "; ".join(f"line {e.line}: {e.reason}" for e in parsed.errors))
    done["imported"] = counts
    return done


if __name__ == "__main__":
    import json

    from ..common.settings import load_settings

    s = load_settings()
    print(json.dumps(configure_sandbox(s, s.xero_url.split("/api.xro")[0]), indent=2))
