"""Signing in and out of the console, and every page read at 1280 px in the viewer's time zone
(each page's screenshot is what docs/console.md shows)."""
from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest

from tests.stackutil import Stack
from .conftest import ZONE, no_horizontal_scroll, sign_in

pytestmark = pytest.mark.stack


def test_sign_in_gives_a_protected_session_that_sign_out_ends(page, context, console_stack, shot):
    _, info = console_stack
    page.goto("/records?status=synced")
    assert "/signin?next=" in page.url  # not signed in: sent to sign in, the page asked for remembered
    shot(page, "signin")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    assert "token: that is not the admin token" in page.locator("[role=alert]").inner_text()

    page.fill("#token", info["admin"]["token"])
    page.click("button[type=submit]")
    page.wait_for_url("**/records?status=synced")  # back where the link pointed
    cookie = next(c for c in context.cookies() if c["name"] == "cz_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    assert info["admin"]["token"] not in cookie["value"]  # the cookie is a signed session id, not the token
    assert ZONE in page.locator("#viewer-zone").get_attribute("title")

    # A form without the session's CSRF token changes nothing.
    forged = page.request.post("/overview/cycles/invoice/run", headers={"Accept": "text/html"})
    assert forged.status == 403 and "csrf_token" in forged.text()

    stolen = cookie["value"]
    page.click("text=Sign out")
    page.wait_for_url("**/signin")
    page.goto("/")
    assert "/signin" in page.url
    # The session is over on the server too: its cookie, kept by someone, opens nothing.
    with httpx.Client(base_url=info["admin"]["url"], cookies={"cz_session": stolen}) as client:
        assert client.get("/", follow_redirects=False).status_code == 303
    # The API keeps its bearer token and never takes the cookie.
    assert httpx.get(f"{info['admin']['url']}/api/records", cookies={"cz_session": stolen}).status_code == 401


PAGES = [("overview", "/", "Overview"), ("records", "/records", "Records"), ("audit", "/audit", "Audit log"),
         ("exceptions", "/exceptions", "Exceptions"), ("payments", "/payments", "Payments"),
         ("balances", "/payments/balances", "Payments"), ("organisations", "/organisations", "Organisations"),
         ("organisation", "/organisations/adelaide", "Harbour IT Adelaide"), ("routing", "/routing", "Routing"),
         ("mappings", "/mappings?table=accounts&organisation=adelaide", "Mappings"),
         ("settings", "/settings", "Settings"), ("outbox", "/outbox", "Outbox")]


def test_every_page_reads_at_1280_px_with_times_in_the_viewers_zone(signed_in, console_stack, shot):
    page = signed_in
    for name, path, heading in PAGES:
        page.goto(path)
        assert heading in page.locator("h1").inner_text(), (path, page.locator("main").inner_text()[:500])
        assert no_horizontal_scroll(page), f"{path} scrolls sideways at 1280 px"
        assert page.locator("header nav a[aria-current=page]").count() == 1
        shot(page, name)
    # Xero payments are polled per organisation; their cycles row shows them together.
    page.goto("/")
    assert "none yet" not in page.locator("#cycles tr", has_text="Xero payment").inner_text()
    # Money is right-aligned, with the organisation's figures in two decimals.
    page.goto("/records?record_type=invoice&status=synced")
    total = page.locator("tbody td.num").first
    assert total.evaluate("td => getComputedStyle(td).textAlign") == "right"
    assert re.fullmatch(r"(\w{3} )?[\d,]+\.\d\d", total.inner_text().strip())
    # Times are shown in the browser's zone: Adelaide is UTC+9:30 or +10:30, never on the hour of UTC.
    stamp = page.locator("tbody time").first
    utc, shown = stamp.get_attribute("datetime"), stamp.inner_text()
    assert utc.endswith("Z") and shown[-5:] != utc[11:16]


def test_lists_sort_page_and_link_the_view_they_show(signed_in, console_stack):
    _, info = console_stack
    page = signed_in
    # Payments sort by a column header, the other way round on a second click.
    page.goto("/payments")
    page.click("thead a:text('Amount')")
    page.wait_for_url("**sort=amount**")
    assert page.locator("th[aria-sort=descending]").text_content() == "Amount"
    amounts = [Decimal(t.split()[-1].replace(",", "")) for t in page.locator("tbody tr td:nth-child(5)").all_inner_texts()]
    assert amounts and amounts == sorted(amounts, reverse=True)
    page.click("thead a:text('Amount')")
    assert page.locator("th[aria-sort=ascending]").text_content() == "Amount"
    # The outbox: times in the viewer's zone, paged.
    page.goto("/outbox")
    stamp = page.locator("tbody time").first
    assert stamp.get_attribute("datetime").endswith("Z") and stamp.inner_text()[-5:] != stamp.get_attribute("datetime")[11:16]
    assert " of " in page.locator(".pager").inner_text()
    # The balances CSV is of the view shown: only the differences, or every customer.
    page.goto("/payments/balances")
    assert "only_differences=true" in page.locator("#balances-csv").get_attribute("href")
    page.select_option("select[name=only_differences]", "false")
    page.click("button:text('Show')")
    page.wait_for_url("**only_differences=false**")
    assert "only_differences=false" in page.locator("#balances-csv").get_attribute("href")
    # An organisation's roll-up is per record type: no total adds invoices, purchase orders and payments.
    page.goto("/organisations/adelaide")
    rollup = page.locator("section:has(h2:text('Roll-up'))")
    assert "Invoice" in rollup.inner_text() and rollup.locator("tfoot").count() == 0
    with Stack.admin_for(info) as admin:
        total = admin.get("/api/exceptions").json()["count"]
    for path in ("/organisations", "/organisations/adelaide"):  # the header still counts every open exception
        page.goto(path)
        badge = page.locator("header .badge")
        assert (badge.inner_text() if badge.count() else "0") == str(total)
