"""The throwaway stack the fuzz test drives: the admin app as a real HTTP server on a fresh database and
the session's broker, with every service its routes call up and real: the audit service (chdb), the alerts
service (with an SMTP capture server) and the Xero simulator (catalog refresh)."""
from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import uvicorn
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from services.admin.app import create_app
from services.alerts.app import Notifier
from services.alerts.app import create_app as create_alerts_app
from services.audit.app import create_app as create_audit_app
from services.audit.store import ChdbStore
from services.common import sandbox_identity as identity
from services.common.settings import Settings
from services.mailbox.__main__ import CaptureHandler
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app as create_xero_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.serve import serving
from services.sandbox.xero.state import build_state
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
        yield FuzzStack(f"http://127.0.0.1:{settings.admin_port}", TOKEN, settings)
