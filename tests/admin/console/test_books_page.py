"""An organisation's go-live and shadow-run page, clicked through in the browser against the
demo stack: the Holdings organisation is switched to shadow with a go-live date to come, a new
invoice of a Holdings customer lands in its shadow report (nothing written), the report's
count filters it and its CSV downloads that view; then it goes live again as the demo had it."""
from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.sandbox_clients import connectwise, new_invoice
from tests.stackutil import Stack, wait_for

pytestmark = pytest.mark.stack
ORG = "holdings"


def _holdings_company() -> int:
    from services.sandbox.seed import generate

    return next(c.id for c in generate(7, 0).companies if c.xero_entity == "Holdings")


def test_shadow_run_from_the_console_reports_what_would_happen(signed_in, console_stack, shot):
    _, info = console_stack
    page = signed_in
    try:
        page.goto(f"/organisations/{ORG}")
        page.click("#books-link")
        page.wait_for_url(f"**/organisations/{ORG}/books")
        assert page.locator("#books-mode").inner_text() == "live"
        page.select_option("#mode", "shadow")
        page.fill("#go-live-date", "2099-01-01")
        page.click("#save-sync-settings")
        page.wait_for_url(f"**/organisations/{ORG}/books?saved=1")
        assert page.locator("#books-mode").inner_text() == "shadow"
        assert "The shadow run began" in page.locator("#shadow-report").inner_text()

        invoice = new_invoice(connectwise(info), _holdings_company(), [(1, "2", "95.00")])
        with Stack.admin_for(info) as admin:
            admin.post(f"/api/records/invoice/{invoice['id']}/force-sync").raise_for_status()
            report = f"/api/organisations/{ORG}/shadow-report"
            row = wait_for(lambda: next((r for r in admin.get(report, params={"limit": 1000}).json()["items"]
                                         if r["cw_id"] == str(invoice["id"])), None), 60,
                           what="the new invoice in the shadow report")
        assert row["outcome"] == "skip" and row["detail"] == "before_go_live", row

        page.goto(f"/organisations/{ORG}/books")
        page.click("#count-skip")
        page.wait_for_url("**outcome=skip**")
        assert invoice["invoiceNumber"] in page.locator("#shadow-report tbody").inner_text()
        shot(page, "books")
        with page.expect_download() as download:
            page.click("#shadow-csv")
        rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
        assert {r["outcome"] for r in rows} == {"skip"} and str(invoice["id"]) in {r["cw_id"] for r in rows}
    finally:  # as the demo had it, for the tests that follow
        with Stack.admin_for(info) as admin:
            admin.put(f"/api/organisations/{ORG}/sync-settings",
                      json={"mode": "live", "go_live_date": None}).raise_for_status()
