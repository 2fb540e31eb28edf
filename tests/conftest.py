"""Fixtures that start real parts: the embedded Tansu broker and embedded
PostgreSQL, once per test session, on free ports, in a temporary data directory."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from services.common.codec import Codec
from services.common.db import migrate
from services.common.kafka import ensure_topics
from services.common.settings import Settings
from services.stack.parts import postgres_spec, tansu_spec
from services.stack.supervisor import Supervisor


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_stack_dir() -> Path:
    """A data directory for embedded parts, outside pytest's temporary root.

    PostgreSQL runs as an unprivileged user and must traverse every parent of its
    data directory; pytest resets its own root to owner-only at each session start,
    which would lock out a server another test session has running.
    """
    path = Path(tempfile.mkdtemp(prefix="cz-test-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def stack_dir():
    path = make_stack_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def parts_dir():
    path = make_stack_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def parts_settings(parts_dir) -> Settings:
    return Settings(data_dir=parts_dir, kafka_port=free_port(), postgres_port=free_port())


@pytest.fixture(scope="session")
def parts_supervisor(parts_settings):
    supervisor = Supervisor(parts_settings.data_dir / "logs")
    yield supervisor
    supervisor.stop_all()


@pytest.fixture(scope="session")
def kafka_bootstrap(parts_settings, parts_supervisor) -> str:
    """A real Kafka-protocol broker (Tansu) with every declared topic created."""
    parts_supervisor.start(tansu_spec(parts_settings))
    parts_supervisor.wait_healthy(["kafka"], 30)
    bootstrap = f"127.0.0.1:{parts_settings.kafka_port}"
    ensure_topics(bootstrap)
    return bootstrap


@pytest.fixture(scope="session")
def postgres_url(parts_settings, parts_supervisor) -> str:
    """A real PostgreSQL server with the product's migrations applied."""
    parts_supervisor.start(postgres_spec(parts_settings))
    parts_supervisor.wait_healthy(["postgres"], 60)
    url = f"postgresql://postgres@127.0.0.1:{parts_settings.postgres_port}/postgres"
    migrate(url)
    return url


@pytest.fixture
def fresh_database(postgres_url):
    """A new, migrated database for one test; returns its URL."""
    import psycopg

    name = f"t{os.getpid()}_{time.time_ns()}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec.from_directory()


def unique_topic_suffix() -> str:
    return str(time.time_ns())


# What a test needs says what kind of test it is (`make test` runs them all; `-m unit` runs the quick ones):
#   unit: pure logic, no parts; integration: at least one real part (broker, Postgres, chdb, SMTP, an HTTP
#   server of the sandbox, a service process); e2e: the whole stack (`connectzero up`).
REAL_PARTS = {"kafka_bootstrap", "postgres_url", "fresh_database", "parts_settings", "parts_supervisor", "stack_dir",
              "cw_sim", "cw_sim_factory", "mailbox", "store", "sim", "money", "pipeline_factory"}


SHARED_STACK = {"stack", "console_stack"}


def pytest_collection_modifyitems(config, items):
    # The tests on the session's whole stack go after the others, so the stack starts late and its idle services
    # do not share the two cores with the rest; then those that pay the seed's invoices, which others read; those
    # that spend an organisation's minute of Xero calls go last, so none after them waits it out. The sort is
    # stable: each group keeps its files' order.
    def group(item) -> int:
        if item.get_closest_marker("spends_xero_minute"):
            return 3
        if item.get_closest_marker("changes_seed_balances"):
            return 2
        return 1 if SHARED_STACK & set(item.fixturenames) else 0

    items.sort(key=group)
    for item in items:
        if item.get_closest_marker("stack"):
            item.add_marker(pytest.mark.e2e)
        elif item.get_closest_marker("integration") is None and REAL_PARTS & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)
        elif item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.unit)


def pytest_unconfigure(config):
    # The session is over and its parts are stopped: background threads of apps built by tests
    # (publishers that retry every 30 s) must not print their retries after the summary.
    import logging

    logging.disable(logging.CRITICAL)


@pytest.fixture(scope="session")
def stack():
    """One whole stack for the end-to-end and browser tests of a session: starting it and backfilling the
    sandbox costs about a minute, so the tests share it and each works on records of its own."""
    from .stackutil import Stack, wait_for

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
    from services.sandbox.seed import generate

    return generate(7, 0)
