"""Browser tests of the console: Debian's chromium, headless, driven by Playwright, against the
session's whole stack. Each test gets a fresh browser context (its own cookies) in the
Australia/Adelaide time zone at 1280 px wide, and `shot(page, name)` keeps a screenshot
(in CZ_CONSOLE_SCREENSHOTS, e.g. docs/console to refresh the ones docs/console.md shows)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ZONE = "Australia/Adelaide"
WIDTH = 1280
TIMEOUT_MS = 20_000


# Package scope, not session: Playwright's sync API keeps an event loop running while it is open,
# and the asyncio tests that run after the console's would find it and refuse to start.
@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright starts each launch with a fresh --user-data-dir of its own (and refuses ours).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def console_stack(request):
    """The session's stack, or one already running whose stack.json CZ_CONSOLE_STACK_JSON names
    (to work on the console without starting a stack per run)."""
    given = os.environ.get("CZ_CONSOLE_STACK_JSON")
    if given:
        return None, json.loads(Path(given).read_text())
    return request.getfixturevalue("stack")


@pytest.fixture
def context(browser, console_stack):
    _, info = console_stack
    ctx = browser.new_context(base_url=info["admin"]["url"], timezone_id=ZONE, locale="en-AU",
                              viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def sign_in(page, info: dict, next_path: str = "/") -> None:
    page.goto(next_path)
    page.wait_for_url("**/signin**")
    page.fill("#token", info["admin"]["token"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def signed_in(page, console_stack):
    """A page whose browser has signed in with the admin token (and shows times in ZONE)."""
    _, info = console_stack
    sign_in(page, info)
    assert page.locator("header.top").is_visible()
    return page


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    path = Path(os.environ.get("CZ_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="cz-console-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(shots_dir):
    def take(page, name: str) -> Path:
        page.wait_for_load_state("networkidle")
        target = shots_dir / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return take


def no_horizontal_scroll(page) -> bool:
    """Readable at 1280 px: nothing on the page is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
