"""The throwaway stack the fuzz test drives: the admin app as a real HTTP server on a fresh database and
the session's broker, with every service its routes call up and real: the audit service (chdb), the alerts
service (with an SMTP capture server) and the Xero simulator (catalog refresh). It starts with something in
it, so that answers carry content to check against the document: an organisation with its Xero catalog, a
routing rule and a mapping (made through the API), open exceptions, audit entries and a captured email."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from services.admin.app import create_app
from services.alerts.app import Notifier
from services.alerts.app import create_app as create_alerts_app
from services.alerts.rules import NewException
from services.alerts.store import record_exception
from services.audit.entries import entry_from_message
from services.audit.app import create_app as create_audit_app
from services.audit.store import ChdbStore
from services.common import sandbox_identity as identity
from services.common.db import connect
from services.common.outbox import store_message
from services.common.settings import Settings
from services.mailbox.__main__ import CaptureHandler
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app as create_xero_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving
from services.sandbox.xero.state import build_state
from tests.admin.config_fixtures import CATALOG
from tests.audit.factories import exchange
from tests.conftest import free_port

TOKEN = "fuzz-admin-token"


class ServerThread:
    def __init__(self, app, port: int, name: str):
        self.name = name
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=name)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, f"{self.name} did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


@dataclass
class FuzzStack:
    url: str
    token: str
    settings: Settings


@contextmanager
def smtp_capture(data_dir: Path) -> Iterator[str]:
    port = free_port()
    controller = Controller(CaptureHandler(data_dir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@contextmanager
def fuzz_stack(kafka_bootstrap: str, postgres_url: str, data_dir: Path) -> Iterator[FuzzStack]:
    with ExitStack() as parts:
        xero = parts.enter_context(serving(create_xero_app(
            build_state(generate(7, 0)), limits=Limits(per_minute=100000, per_day=100000, app_per_minute=100000))))
        smtp_url = parts.enter_context(smtp_capture(data_dir))
        settings = Settings(data_dir=data_dir, admin_token=TOKEN, secret_key=Fernet.generate_key().decode(),
                            kafka_bootstrap=kafka_bootstrap, postgres_url=postgres_url, smtp_url=smtp_url,
                            # ignored_auth sends wrong tokens on purpose: no lock-out (tests/admin checks the limit)
                            signin_max_failures=1_000_000_000,
                            alert_check_seconds=3600, admin_port=free_port(), audit_port=free_port(),
                            alerts_port=free_port(), xero_url=f"{xero}/api.xro/2.0",
                            xero_token_url=f"{xero}/connect/token", xero_client_id=identity.XERO_CLIENT_ID,
                            xero_client_secret=identity.XERO_CLIENT_SECRET)
        store = ChdbStore(data_dir / "chdb")
        store.open(90)
        parts.callback(store.close)
        parts.enter_context(ServerThread(create_audit_app(settings, store), settings.audit_port, "audit"))
        parts.enter_context(ServerThread(create_alerts_app(settings, None, Notifier(settings)), settings.alerts_port,
                                         "alerts"))
        parts.enter_context(ServerThread(create_app(settings), settings.admin_port, "admin"))
        stack = FuzzStack(f"http://127.0.0.1:{settings.admin_port}", TOKEN, settings)
        seed(stack, store)
        yield stack


def seed(stack: FuzzStack, store: ChdbStore) -> None:
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.token}"}, timeout=30) as api:
        for method, path, body in (
                ("POST", "/api/organisations", {"id": "adelaide", "name": "Harbour IT Adelaide", "tenant_id": "t-adl"}),
                ("PUT", "/api/organisations/adelaide/catalog", CATALOG),
                ("POST", "/api/routing-rules", {"kind": "default", "organisation_id": "adelaide", "priority": 100}),
                ("PUT", "/api/mappings/accounts",
                 {"organisation_id": "adelaide", "side": "sales", "source": "*", "account_code": "200"})):
            answer = api.request(method, path, json=body)
            assert answer.status_code < 300, (method, path, answer.text)
    now = datetime.now(timezone.utc)
    with connect(stack.settings.postgres_url, autocommit=True) as conn:
        for number, kind in enumerate(("missing_contact", "unknown_account", "tax_mismatch"), start=1):
            record_exception(conn, NewException(
                event_id=f"fuzz-{number}", kind=kind, record_type="invoice", record_id=str(3000 + number),
                organisation_id="adelaide", customer="Acme Pty Ltd", message=f"{kind} on invoice {3000 + number}",
                details={"field": kind}, audit_entry_id=f"fuzz-entry-{number}", raised_at=now), "sync.exceptions.v1")
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange", exchange(exchange_id=f"fuzz-entry-{i}"),
                                     b"", None) for i in range(1, 6)])
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "connectzero@localhost", "finance@example.com", "Exceptions"
    mail.set_content("missing_contact on invoice 3001")
    store_message(stack.settings.data_dir, mail.as_bytes())
