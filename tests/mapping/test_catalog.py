"""Catalog refresh against the Xero simulator over real HTTP, stored in a real PostgreSQL."""
from __future__ import annotations

import httpx
import pytest

from services.common.db import connect
from services.mapping import catalog as cat
from services.mapping import repository as repo
from services.mapping.rows import AccountRow, check_row
from services.common.sandbox_identity import ORGANISATIONS
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

ORG = ORGANISATIONS[0]


@pytest.fixture()
def xero():
    state = build_state(generate(7, 0))
    app = create_app(state, limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))
    with serving(app) as base:
        token = sign_in(base)["access_token"]
        with httpx.Client(base_url=f"{base}/api.xro/2.0/", timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            yield state.org(ORG.tenant_id), client


def test_refresh_stores_what_xero_knows(xero, fresh_database):
    sim, client = xero
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id) values ('adelaide', %s, %s)", (ORG.name, ORG.tenant_id))
        version = repo.config_version(conn)
        counts = cat.refresh_catalog(client, conn, "adelaide", ORG.tenant_id, actor="test")
        assert counts["accounts"] == sum(1 for a in sim.accounts.values() if a.get("Code"))
        assert counts["tax_rates"] == len(sim.tax_rates) and counts["contacts"] == len(sim.contacts)
        assert counts["tracking"] == sum(len(c["Options"]) for c in sim.tracking)
        # Its base currency too, so the console shows its money in it.
        assert repo.get_organisation(conn, "adelaide")["base_currency"] == "AUD"
        # The refresh is a configuration change: the mapper reloads at the next record.
        assert repo.config_version(conn) > version
        snapshot = repo.load_snapshot(conn)
        catalog = snapshot.orgs["adelaide"].catalog
        revenue = next(a for a in sim.accounts.values() if a.get("Class") == "REVENUE")
        assert catalog.accounts[revenue["Code"]].account_class == "REVENUE"
        for tax in sim.tax_rates.values():
            stored = catalog.tax_rates[tax["TaxType"]]
            assert ("REVENUE" in stored.applies_to) == bool(tax.get("CanApplyToRevenue"))
            assert ("EXPENSE" in stored.applies_to) == bool(tax.get("CanApplyToExpenses"))
            assert stored.rate == type(stored.rate)(str(tax["EffectiveRate"]))
        first = sim.tracking[0]
        assert {o["Name"] for o in first["Options"] if o.get("Status", "ACTIVE") == "ACTIVE"} <= catalog.tracking[first["Name"]]
        assert {c.contact_id for c in catalog.contacts} == {str(c["ContactID"]) for c in sim.contacts.values()}
        numbered = next(c for c in sim.contacts.values() if c.get("ContactNumber"))
        assert any(c.contact_number == numbered["ContactNumber"] and c.name == numbered["Name"] for c in catalog.contacts)
        # Codes that exist now pass the CSV/API check; others do not.
        known = repo.load_known(conn)
        good = AccountRow(organisation_id="adelaide", side="sales", source="*", account_code=revenue["Code"])
        assert check_row("accounts", good, known) is None
        assert check_row("accounts", good.model_copy(update={"account_code": "NOPE"}), known)[0] == "account_code"
        # A second refresh replaces, not duplicates.
        assert cat.refresh_catalog(client, conn, "adelaide", ORG.tenant_id) == counts


def test_failed_refresh_changes_nothing(xero, fresh_database):
    _sim, client = xero
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id) values ('adelaide', %s, %s)", (ORG.name, ORG.tenant_id))
        cat.refresh_catalog(client, conn, "adelaide", ORG.tenant_id)
        before = cat.read_catalog(conn, "adelaide")
        with pytest.raises(httpx.HTTPStatusError):
            cat.refresh_catalog(client, conn, "adelaide", "00000000-0000-0000-0000-000000000000")
        assert cat.read_catalog(conn, "adelaide") == before
