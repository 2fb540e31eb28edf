"""One whole stack for the end-to-end tests of a session: starting it and backfilling the
sandbox costs about a minute, so the tests share it and each works on records of its own."""
from __future__ import annotations

import shutil

import pytest

from services.sandbox.seed import generate

from ..conftest import make_stack_dir
from ..stackutil import Stack, wait_for


@pytest.fixture(scope="session")
def stack():
    data_dir = make_stack_dir()
    stack = Stack(data_dir, sandbox_scale=0)
    try:
        info = stack.start(timeout=180)
        with stack.admin() as admin:
            # The first cycles (started at start-up) backfill the seed; wait until nothing is pending.
            def settled():
                items = admin.get("/api/records", params={"limit": 1000}).json()["items"]
                synced_types = [r for r in items if r["record_type"] in ("invoice", "credit_note")]
                return synced_types and not [r for r in synced_types if r["status"] == "pending"] and items
            wait_for(settled, 120, interval=1, what="initial backfill settled")
        yield stack, info
    finally:  # a stack that failed to settle must not outlive the test run
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def msp():
    return generate(7, 0)
