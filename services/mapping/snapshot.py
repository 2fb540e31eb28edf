"""Loading configuration in bulk: every organisation with its mapping tables
and catalog for the mapper (`load_snapshot`), and the names and codes row
checks need (`load_known`)."""

from __future__ import annotations

from .history import config_version
from .model import (
    Account,
    Catalog,
    Contact,
    OrgMapping,
    Rule,
    Snapshot,
    SyncSettings,
    TaxRate,
    XeroFacts,
)
from .rows import Known


def _rules(conn) -> list[dict]:
    return conn.execute(
        "select id, kind, caption, value, organisation_id, priority from routing_rules order by priority, id"
    ).fetchall()


def load_known(conn) -> Known:
    known = Known(organisations={r["id"] for r in conn.execute("select id from organisations")})
    for r in conn.execute("select organisation_id, code from xero_accounts where status = 'ACTIVE'"):
        known.accounts.setdefault(r["organisation_id"], set()).add(r["code"])
    for r in conn.execute("select organisation_id, tax_type from xero_tax_rates where status = 'ACTIVE'"):
        known.tax_types.setdefault(r["organisation_id"], set()).add(r["tax_type"])
    for r in conn.execute(
        "select organisation_id, category, option from xero_tracking_options where status = 'ACTIVE'"
    ):
        known.tracking.setdefault(r["organisation_id"], {}).setdefault(r["category"], set()).add(r["option"])
    return known


def load_snapshot(conn) -> Snapshot:
    """Everything the mapper needs, read in one repeatable-read transaction."""
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        version = config_version(conn)
        orgs = {
            r["id"]: OrgMapping(
                r["id"],
                r["name"],
                r["tenant_id"],
                r["status"],
                r["create_contacts"],
                payment_account=r["payment_account_code"],
            )
            for r in conn.execute(
                "select id, name, tenant_id, status, create_contacts, payment_account_code from organisations"
            )
        }
        rules = [
            Rule(r["id"], r["kind"], r["value"], r["organisation_id"], r["priority"], r["caption"])
            for r in _rules(conn)
        ]
        for r in conn.execute("select * from account_mappings"):
            orgs[r["organisation_id"]].accounts[(r["side"], r["source"])] = r["account_code"]
        for r in conn.execute("select * from tax_mappings"):
            orgs[r["organisation_id"]].tax[(r["side"], r["source"])] = r["tax_type"]
        for r in conn.execute("select * from tracking_mappings"):
            orgs[r["organisation_id"]].tracking[(r["source_kind"], r["source"])] = (r["category"], r["option"])
        for r in conn.execute("select * from contact_mappings"):
            orgs[r["organisation_id"]].contacts[r["company_identifier"]] = r["contact_id"]
        catalogs = {org_id: Catalog() for org_id in orgs}
        for r in conn.execute("select * from xero_accounts"):
            catalogs[r["organisation_id"]].accounts[r["code"]] = Account(
                r["code"], r["name"], r["class"], r["status"], r["payments_enabled"]
            )
        for r in conn.execute("select * from xero_tax_rates"):
            catalogs[r["organisation_id"]].tax_rates[r["tax_type"]] = TaxRate(
                r["tax_type"], r["name"], r["rate"], frozenset(r["applies_to"]), r["status"]
            )
        tracking: dict[str, dict[str, set]] = {}
        for r in conn.execute("select * from xero_tracking_options where status = 'ACTIVE'"):
            tracking.setdefault(r["organisation_id"], {}).setdefault(r["category"], set()).add(r["option"])
        for org_id, cats in tracking.items():
            catalogs[org_id].tracking = {c: frozenset(o) for c, o in cats.items()}
        for r in conn.execute("select * from xero_contacts"):
            catalogs[r["organisation_id"]].contacts.append(
                Contact(r["contact_id"], r["name"], r["contact_number"], r["status"], r["account_number"])
            )
        for org_id, catalog in catalogs.items():
            orgs[org_id].catalog = catalog
        for org_id, settings in load_sync_settings(conn).items():
            if org_id in orgs:
                orgs[org_id].settings = settings
        for org_id, facts in load_facts(conn).items():
            orgs[org_id].facts = facts
        create_status = {
            r["record_type"]: r["create_status"]
            for r in conn.execute("select record_type, create_status from record_type_settings")
        }
    return Snapshot(version, rules, orgs, create_status)


def load_sync_settings(conn) -> dict[str, SyncSettings]:
    return {
        r["organisation_id"]: SyncSettings(
            r["go_live_date"],
            r["mode"],
            r["shadow_since"],
            r["lock_date_treatment"],
            r["rounding_account_code"],
            r["customer_details"],
        )
        for r in conn.execute("select * from organisation_sync_settings")
    }


def load_facts(conn) -> dict[str, XeroFacts]:
    currencies: dict[str, set[str]] = {}
    for r in conn.execute("select organisation_id, code from xero_currencies"):
        currencies.setdefault(r["organisation_id"], set()).add(r["code"])
    return {
        r["id"]: XeroFacts(
            r["base_currency"],
            frozenset(currencies.get(r["id"], ())),
            r["period_lock_date"],
            r["end_of_year_lock_date"],
        )
        for r in conn.execute("select id, base_currency, period_lock_date, end_of_year_lock_date from organisations")
    }
