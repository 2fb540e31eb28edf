"""The demo configuration (services/sandbox/operator.py) against the Xero simulator and
a real PostgreSQL: every synthetic invoice and credit memo routes where the
MSP's routing intent says, maps with its catalog item's account and Service
Line, and only the customers without a Xero contact raise exceptions; the Auckland
office's invoices go to the New Zealand organisation in NZD at the rate ConnectWise
recorded."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from services.common.db import connect
from services.mapper.decide import decide
from services.common.secrets import SecretBox
from services.mapping import repository as repo
from services.mapping.catalog import refresh_from_xero
from services.mapping.csv_io import import_csv
from services.sandbox.operator import demo_mapping_rows, set_sandbox_books, to_csv
from services.mapping.translate import XeroDocument, translate
from services.common import sandbox_identity as identity
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving, sign_in
from services.sandbox.xero.state import build_state

from ..admin.config_fixtures import make_settings


def as_record(msp, inv) -> dict:
    """A seed invoice in the shape ingest emits (cw_invoice_changed)."""
    company = msp.company(inv.company_id)
    members = {m.id: m.identifier for m in msp.members}
    tax_code = next(t for t in msp.tax_codes if t.id == inv.tax_code_id)
    items = {c.id: c for c in msp.catalog}
    return {
        "record_type": "credit_note" if inv.type == "CreditMemo" else "invoice", "cw_id": inv.id, "trigger": "SCHEDULE",
        "change": "UPSERT", "observed_at": 0, "last_updated": 0, "content_hash": f"h{inv.id}",
        "invoice_number": inv.invoice_number, "invoice_type": inv.type, "status": inv.status, "company_id": company.id,
        "company_identifier": company.identifier, "company_name": company.name, "date": inv.date.isoformat(),
        "due_date": inv.due_date.isoformat(), "location_id": inv.location_id, "department_id": inv.department_id,
        "member_identifier": members.get(inv.member_id), "account_manager_identifier": members.get(company.account_manager_id),
        "currency": inv.currency, "tax_code": tax_code.name, "subtotal": inv.subtotal, "sales_tax": inv.sales_tax,
        "total": inv.total, "balance": inv.total,
        "custom_fields": [{"caption": "Xero Entity", "value": company.xero_entity}]
        + ([{"caption": "Exchange Rate", "value": str(inv.exchange_rate)}] if inv.exchange_rate else []),
        "lines": [{"id": l.id, "description": l.description, "catalog_item": items[l.catalog_item_id].identifier,
                   "product_class": items[l.catalog_item_id].product_class, "quantity": l.quantity, "price": l.price,
                   "cost": l.cost, "taxable": l.taxable} for l in inv.lines],
        "raw": "{}",
    }


@pytest.fixture()
def configured(fresh_database, tmp_path):
    msp = generate(7, 1)
    sim = create_app(build_state(msp), limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))
    with serving(sim) as base:
        settings = make_settings(fresh_database, tmp_path=tmp_path).model_copy(update={
            "xero_url": f"{base}/api.xro/2.0", "xero_token_url": f"{base}/connect/token",
            "xero_client_id": identity.XERO_CLIENT_ID, "xero_client_secret": identity.XERO_CLIENT_SECRET})
        set_sandbox_books({"xero": {"token_url": f"{base}/connect/token"}})  # NZD in the New Zealand organisation
        token = sign_in(base)["refresh_token"]  # one sign-in reaches every organisation
        with connect(settings.postgres_url, autocommit=True) as conn:
            for org in identity.ORGANISATIONS:
                with conn.transaction():
                    repo.create_organisation(conn, {"id": org.short, "name": org.name, "tenant_id": org.tenant_id,
                                                    "refresh_token": token}, SecretBox(settings.secret_key), "test")
        for org in identity.ORGANISATIONS:
            refresh_from_xero(settings, settings.postgres_url, org.short, org.tenant_id, "test")
        text = to_csv(demo_mapping_rows(msp))
        with connect(settings.postgres_url, autocommit=True) as conn:
            parsed, counts, _ = import_csv(conn, text, "test", dry_run=False)
            assert parsed.errors == [], parsed.errors[:5]
            version = repo.config_version(conn)
            again, _, changes = import_csv(conn, text, "test", dry_run=False)  # the same file again changes nothing
            assert again.errors == [] and changes == [] and repo.config_version(conn) == version
        yield msp, settings, counts


def test_sandbox_invoices_route_and_map_as_the_msp_intends(configured):
    msp, settings, counts = configured
    assert counts["routing_rules"] == 1 + len(msp.locations) + 1
    with connect(settings.postgres_url, autocommit=True) as conn:
        snapshot = repo.load_snapshot(conn)
    has_contact = {(c.organisation, c.company_id) for c in msp.xero_contacts}
    items = {c.identifier: c for c in msp.catalog}
    now = datetime.now(timezone.utc)
    seen = {"write": 0, "missing_contact": 0, "NZD": 0}
    for inv in msp.invoices:
        record = as_record(msp, inv)
        company = msp.company(inv.company_id)
        expected_org = msp.organisation_for(company, inv.location_id)
        decision = decide(record, snapshot, now)
        assert decision.organisation_id == expected_org, (inv.invoice_number, decision.reason)
        if (expected_org, company.id) not in has_contact:
            assert decision.writes == [] and [e["kind"] for _, _, e in decision.exceptions] == ["missing_contact"]
            seen["missing_contact"] += 1
            continue
        assert decision.exceptions == [], [e["message"] for _, _, e in decision.exceptions]
        seen["write"] += 1
        doc = translate(record, snapshot.orgs[expected_org], "DRAFT")
        assert isinstance(doc, XeroDocument)
        assert doc.subtotal == abs(inv.subtotal)
        assert abs(doc.total - abs(inv.total)) <= D("0.01") * len(inv.lines)
        if inv.currency == "NZD":
            assert expected_org == "auckland" and doc.element["CurrencyCode"] == "NZD"
            assert D(doc.element["CurrencyRate"]) == inv.exchange_rate
            seen["NZD"] += 1
        else:
            assert doc.element["CurrencyCode"] == "AUD" and "CurrencyRate" not in doc.element
        for line, item in zip(doc.element["LineItems"], record["lines"]):
            catalog_item = items[item["catalog_item"]]
            assert line["AccountCode"] == catalog_item.xero_account
            assert {"Name": "Service Line", "Option": catalog_item.service_line} in line["Tracking"]
            assert {"Name": "Region", "Option": msp.location(inv.location_id).name} in line["Tracking"]
    assert seen["write"] > 100 and seen["missing_contact"] >= 1 and seen["NZD"] == 20
