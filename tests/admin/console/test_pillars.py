"""The seed's live demo, clicked through in the browser: an invoice sync, force-sync from a
record's page, the audit log filtered and exported, an alert email followed to its exception
and fixed, an organisation connected by OAuth, and a mapping CSV checked before it applies."""
from __future__ import annotations

import csv
import io
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from tests.e2e.sandbox_clients import XeroReader, connectwise, new_invoice
from tests.stackutil import Stack, wait_for
from .conftest import no_horizontal_scroll, sign_in

pytestmark = pytest.mark.stack
NO_ADELAIDE_CONTACT = 252  # GD0003: a customer with no Xero contact in Adelaide (seed 7, scale 0)


def synced_invoice(info: dict) -> dict:
    with Stack.admin_for(info) as admin:
        items = admin.get("/api/records", params={"record_type": "invoice", "status": "synced", "limit": 50}).json()
    return next(r for r in items["items"] if r["customer"])


def test_an_invoice_sync_shows_on_the_overview_and_on_its_page(signed_in, console_stack, shot):
    _, info = console_stack
    page = signed_in
    invoice = synced_invoice(info)
    with Stack.admin_for(info) as admin:
        before = next(s for s in admin.get("/api/sync").json() if s["record_type"] == "invoice")["last_cycle_started"]
    page.goto("/")
    assert page.locator("section[aria-label='Harbour IT Adelaide Pty Ltd']").is_visible()
    # ConnectWise answers slowly for a moment, so the cycle runs long enough to be watched.
    faults = info["connectwise"]["url"].split("/v4_6_release")[0] + "/_sandbox/faults"
    httpx.put(faults, json={"latency_ms": 2000}, timeout=10).raise_for_status()
    try:
        row = page.locator("#cycles tr", has_text="Invoice")
        row.locator("button:text('Run now')").click()
        assert "Invoice cycle requested" in page.locator("#cycles [role=status]").inner_text()
        row.locator("progress").wait_for(state="visible")  # the panel asks every 2 s while it runs
    finally:
        httpx.put(faults, json={"latency_ms": 0}, timeout=10)
    with Stack.admin_for(info) as admin:  # ingest runs it: the cycle's start moves
        wait_for(lambda: next(s for s in admin.get("/api/sync").json() if s["record_type"] == "invoice"
                              )["last_cycle_started"] != before, 30, what="the invoice cycle started")
    page.goto("/records?record_type=invoice&status=synced")
    page.click(f"text={invoice['number']}")
    page.wait_for_url(f"**/records/invoice/{invoice['cw_id']}")
    assert page.locator("#record-status").inner_text() == "synced"
    assert invoice["xero_id"] in page.locator("main").inner_text()
    assert "go.xero.com" in page.locator("text=Open in Xero").get_attribute("href")
    history = page.locator("section:has(h2:text('History')) tbody tr")
    assert history.count() > 0  # its events and writes, each a link into the audit log
    shot(page, "record")
    page.locator("section:has(h2:text('History')) tbody a").first.click()
    page.wait_for_url("**/audit/**")
    assert page.locator("h1").is_visible()
    shot(page, "audit-entry")


def test_force_sync_from_a_record_page_shows_the_status_change(signed_in, console_stack):
    _, info = console_stack
    page = signed_in
    cw = connectwise(info)
    invoice = new_invoice(cw, _adelaide_company(), [(1, "2", "40.00")])
    page.goto(f"/records/invoice/{invoice['id']}")
    assert "has not read this record yet" in page.locator("main").inner_text()
    page.click("#force-sync-button")
    page.wait_for_selector("#force-sync-outcome", timeout=60_000)  # the panel asks until the outcome lands
    assert "the record is now synced" in page.locator("#force-sync-outcome").inner_text()
    page.reload()
    assert page.locator("#record-status").inner_text() == "synced"
    assert "FORCE_SYNC" in page.locator("section:has(h2:text('History'))").inner_text()


def _adelaide_company() -> int:
    """A customer the Adelaide organisation knows (so its invoice is written, not raised)."""
    from services.sandbox.seed import generate

    msp = generate(7, 0)
    known = {c.company_id for c in msp.xero_contacts if c.organisation == "adelaide"}
    return next(c.id for c in msp.companies if not c.is_vendor and c.location_id == 1 and not c.xero_entity
                and c.id in known)


def test_the_audit_log_filtered_by_customer_and_status_exports_that_view(signed_in, console_stack, shot):
    _, info = console_stack
    page = signed_in
    customer = synced_invoice(info)["customer"]
    page.goto("/audit")
    page.fill("input[name=customer]", customer[:6])
    page.fill("input[name=status]", "200")
    page.click("text=Filter")
    page.wait_for_url("**/audit?**")
    rows = page.locator("main table tbody tr")
    assert rows.count() > 0
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        assert customer[:6].lower() in cells.nth(5).inner_text().lower() and cells.nth(6).inner_text() == "200"
    shot(page, "audit-filtered")
    with page.expect_download() as download:
        page.click("#export-csv")
    text = open(download.value.path(), encoding="utf-8").read()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) >= rows.count()
    assert all(customer[:6].lower() in r["customer"].lower() and r["status"] == "200" for r in exported)


def test_an_alert_email_leads_to_its_exception_and_the_fix_resolves_it(page, context, console_stack, shot):
    _, info = console_stack
    cw = connectwise(info)
    invoice = new_invoice(cw, NO_ADELAIDE_CONTACT, [(1, "1", "75.00")])
    with Stack.admin_for(info) as admin:
        admin.post(f"/api/records/invoice/{invoice['id']}/force-sync")
        mail = wait_for(lambda: next((m for m in admin.get("/api/outbox").json()["messages"]
                                      if f"invoice {invoice['id']}: missing_contact" in m["subject"]), None), 60,
                        what="the alert email")
    # The finance person, not signed in, opens the email in the outbox (signing in first) and follows its link.
    sign_in(page, info, "/outbox")
    page.click(f"text={mail['subject']}")
    shot(page, "message")
    link = page.locator("#message-body a", has_text="/exceptions/").first
    assert "/api/" not in page.locator("#message-body").inner_text()
    target = urlsplit(link.get_attribute("href")).path
    page.click("text=Sign out")
    page.goto(target)  # a link clicked in a mail reader: no session in this browser yet
    page.wait_for_url("**/signin?next=**")
    page.fill("#token", info["admin"]["token"])
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")  # lands where the link pointed
    assert page.locator("#exception-status").inner_text() == "open"
    shot(page, "exception")
    page.click("button:text('Mark resolved')")
    assert page.locator("#exception-status").inner_text() == "resolved"
    assert "by admin" in page.locator("main").inner_text()
    # Resolved, though its record is still in exception: Adelaide's open exceptions are counted, not such records.
    with Stack.admin_for(info) as admin:
        still_open = admin.get("/api/exceptions", params={"organisation": "adelaide"}).json()["count"]
    page.goto("/organisations")
    adelaide = page.locator("main tbody tr", has_text="Harbour IT Adelaide")
    assert adelaide.locator("td").nth(4).inner_text() == str(still_open)
    page.goto(target)
    page.click("button:text('Re-open')")
    assert page.locator("#exception-status").inner_text() == "open"

    # Fix it: the bookkeeper adds the customer in Xero; the mapping the exception links to names it.
    xero = XeroReader(info)
    contact = xero.call("PUT", "Contacts", "adelaide", json={"Contacts": [{"Name": invoice["company"]["name"]}]})
    contact_id = contact["Contacts"][0]["ContactID"]
    page.click("#fix-link")
    page.wait_for_url("**/mappings?**table=contacts**")
    new_row = page.locator("#new-mapping")
    assert new_row.locator("input[name=company_identifier]").input_value() == invoice["company"]["identifier"]
    new_row.locator("input[name=contact_id]").fill(contact_id)
    new_row.locator("button:text('Add')").click()
    page.wait_for_url("**saved=1**")
    saved = page.locator("#mapping-table tr", has_text=invoice["company"]["identifier"])
    assert saved.locator("input[name=contact_id]").input_value() == contact_id

    page.goto(target)
    page.click("#record-link")
    page.click("#force-sync-button")
    page.wait_for_selector("#force-sync-outcome", timeout=60_000)
    assert "now synced" in page.locator("#force-sync-outcome").inner_text()
    page.goto(target)
    assert page.locator("#exception-status").inner_text() == "resolved"
    with Stack.admin_for(info) as admin:  # the customer is left as other tests expect it: without a mapping
        admin.delete("/api/mappings/contacts", params={"organisation_id": "adelaide",
                                                       "company_identifier": invoice["company"]["identifier"]})


def test_an_organisation_connects_through_xeros_oauth_flow(signed_in, console_stack, shot):
    _, info = console_stack
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/organisations/holdings")
    page.click("text=Disconnect")
    page.wait_for_url("**notice=disconnected")
    assert page.locator("#org-status").inner_text() == "disconnected"

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/identity/connect/authorize" in request.url else None)
    page.goto("/organisations")
    page.click("#connect-xero")
    page.wait_for_url("**/xero/callback**")
    query = parse_qs(urlsplit(asked[0]).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and len(query["state"][0]) >= 20
    assert "offline_access" in query["scope"][0]
    # Every organisation the consent reached is listed; the disconnected one is ticked to reconnect.
    rows = page.locator("main tbody tr")
    assert rows.count() == len(info["xero"]["organisations"])
    holdings = page.locator("tr", has_text="Harbour IT Holdings")
    assert holdings.locator("input[type=checkbox]").is_checked()
    assert not page.locator("tr", has_text="Harbour IT Adelaide").locator("input[type=checkbox]").is_checked()
    shot(page, "connect")
    page.click("#add-organisations")
    page.wait_for_url("**/organisations?notice=connected")
    row = page.locator("tr", has_text="Harbour IT Holdings")
    assert "connected" in row.inner_text() and "accounting.transactions" in row.inner_text()
    with Stack.admin_for(info) as admin:  # and the new credential works: its catalog was read with it
        org = admin.get("/api/organisations/holdings").json()
        assert org["status"] == "connected" and org["connected"]
        assert admin.post("/api/organisations/holdings/catalog/refresh").status_code == 200


def test_the_routing_preview_says_where_an_invoice_would_go(signed_in, console_stack, shot):
    _, info = console_stack
    page = signed_in
    invoice = synced_invoice(info)
    with Stack.admin_for(info) as admin:
        org_name = admin.get(f"/api/organisations/{invoice['organisation_id']}").json()["name"]
    page.goto("/routing")
    page.fill("#preview-record", invoice["number"])
    page.click("#preview-by-record button[type=submit]")
    page.wait_for_url("**/routing/preview?record=**")
    # Its fields as ingest read them, routed by the rules of now: to where it was written, by a rule shown above.
    facts = page.locator("#preview-record-facts").inner_text()
    assert invoice["number"] in facts and "carries location" in facts
    result = page.locator("#preview-result").inner_text()
    assert f"Goes to {org_name}" in result and "(rule " in result
    assert page.locator("tbody tr.fresh").count() == 1  # the rule that decides is marked
    assert no_horizontal_scroll(page)
    shot(page, "routing-preview")
    page.fill("#preview-record", "NO-SUCH-INVOICE")
    page.click("#preview-by-record button[type=submit]")
    assert "no ConnectWise record is numbered 'NO-SUCH-INVOICE'" in page.locator("[role=alert]").inner_text()


def test_a_mapping_csv_with_a_bad_row_shows_the_error_before_anything_applies(signed_in, console_stack, tmp_path):
    _, info = console_stack
    page = signed_in
    header = "table,organisation_id,kind,caption,value,priority,side,source,source_kind,account_code,tax_type,category,option,company_identifier,contact_id"
    widget = f"Console Widget {uuid.uuid4().hex[:6]}"  # a catalog item of this run's own
    good = f"accounts,sydney,,,,,sales,{widget},,200,,,,,"
    bad = "accounts,sydney,,,,,sales,Console Gadget,,9999,,,,,"  # no account 9999 in Sydney's Xero
    path = tmp_path / "mappings.csv"
    path.write_text("\n".join([header, good, bad]) + "\n")
    page.goto("/mappings?table=accounts&organisation=sydney")
    page.set_input_files("#csv-file", str(path))
    page.click("button[value=check]")
    errors = page.locator("#import-errors")
    assert "1 bad row(s): nothing will be applied" in errors.inner_text()
    assert "9999" in page.locator("#csv table").inner_text() and "3" in page.locator("#csv table td.num").first.inner_text()
    assert page.locator("#apply-import").count() == 0
    with Stack.admin_for(info) as admin:
        sources = [r["source"] for r in admin.get("/api/mappings/accounts", params={"organisation_id": "sydney"}).json()]
    assert widget not in sources  # the good row waited too

    path.write_text("\n".join([header, good]) + "\n")
    page.set_input_files("#csv-file", str(path))
    page.click("button[value=check]")
    assert "All 1 row(s) are good" in page.locator("#import-valid").inner_text()
    page.click("#apply-import")
    assert "Applied 1 row(s)" in page.locator("#import-applied").inner_text()
    with Stack.admin_for(info) as admin:
        sources = [r["source"] for r in admin.get("/api/mappings/accounts", params={"organisation_id": "sydney"}).json()]
    assert widget in sources


def test_settings_change_a_record_type_the_bank_account_the_audit_retention_and_the_alert_recipients(
        signed_in, console_stack):
    _, info = console_stack
    page = signed_in
    with Stack.admin_for(info) as admin:
        procurement = admin.get("/api/settings/procurement").json()
    page.goto("/settings")
    row = page.locator("tr", has_text="Purchase order")
    row.locator("input[name=cadence_minutes]").fill("120")
    row.locator("select[name=create_status]").select_option("AUTHORISED")
    row.locator("select[name=alert_mode]").select_option("digest")
    row.locator("button:text('Save')").click()
    page.wait_for_url("**/settings?saved=1")
    row = page.locator("tr", has_text="Purchase order")
    assert row.locator("select[name=create_status]").input_value() == "AUTHORISED"
    assert row.locator("select[name=alert_mode]").input_value() == "digest"

    # A second bank account in Sydney's catalog, as a catalog refresh brings one added in Xero.
    with psycopg.connect(info["postgres"]["url"], autocommit=True) as conn:
        conn.execute("insert into xero_accounts (organisation_id, code, name, class, type, status, payments_enabled)"
                     " values ('sydney', '091', 'Savings Account', 'ASSET', 'BANK', 'ACTIVE', true)"
                     " on conflict do nothing")
    try:
        page.goto("/settings")
        bank = page.locator("#payment-accounts tr", has_text="Harbour IT Sydney")
        assert bank.locator("select").input_value() == "090"
        bank.locator("select").select_option("091")
        bank.locator("button:text('Save')").click()
        page.wait_for_url("**/settings?saved=1#payment-accounts")
        assert page.locator("#payment-accounts tr", has_text="Harbour IT Sydney").locator("select").input_value() == "091"
        with Stack.admin_for(info) as admin:
            assert admin.get("/api/organisations/sydney").json()["payment_account_code"] == "091"
    finally:  # as the demo had it
        with Stack.admin_for(info) as admin:
            admin.put("/api/organisations/sydney", json={"payment_account_code": "090"}).raise_for_status()
        with psycopg.connect(info["postgres"]["url"], autocommit=True) as conn:
            conn.execute("delete from xero_accounts where organisation_id = 'sydney' and code = '091'")

    page.goto("/settings")
    page.fill("#retention-days", "120")
    page.locator("#audit-retention button:text('Save')").click()
    page.wait_for_url("**/settings?saved=1**")
    assert "set by admin" in page.locator("#audit-retention").inner_text()
    page.fill("#alert-recipients", "finance@example.com, nobody-at-all")
    page.locator("#alerts button:text('Save')").click()
    assert "recipients: 'nobody-at-all' is not an email address" in page.locator("[role=alert]").inner_text()
    page.fill("#alert-recipients", "finance@example.com, books@harbour.example")
    page.select_option("#digest-hour", "18")
    page.locator("#alerts button:text('Save')").click()
    page.wait_for_url("**/settings?saved=1**")
    assert "Set by admin" in page.locator("#alerts").inner_text()
    with Stack.admin_for(info) as admin:
        chosen = admin.get("/api/settings/alerts").json()
        assert chosen["recipients"] == ["finance@example.com", "books@harbour.example"] and chosen["digest_hour_utc"] == 18
        admin.put("/api/settings/alerts", json={"digest_hour_utc": 7, "recipients": "finance@example.com"})
        saved = admin.get("/api/settings/procurement").json()
        assert (saved["cadence_minutes"], saved["create_status"], saved["alert_mode"]) == (120, "AUTHORISED", "digest")
        assert admin.get("/api/settings/audit").json()["retention_days"] == 120
        # As the demo had them, for the tests that follow.
        admin.put("/api/settings/procurement", json={k: procurement[k] for k in ("cadence_minutes", "create_status",
                                                                                  "alert_mode")})
        admin.put("/api/settings/audit", json={"retention_days": 90})
