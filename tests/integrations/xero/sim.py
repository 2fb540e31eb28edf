"""The real Xero simulator served over HTTP on a free port, for client and writer tests."""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import httpx
import uvicorn

from services.common.exchanges import ExchangeRecorder
from services.integrations.xero.auth import PostgresTokenStore, TokenManager
from services.integrations.xero.client import PacerGate, XeroClient
from services.integrations.xero.pacing import Limits as PacerLimits, Pacer

from services.sandbox.faults import Faults
from services.common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.seed import generate
from services.sandbox.xero.app import create_app
from services.sandbox.xero.ratelimit import Limits
from services.sandbox.xero.state import XeroState, build_state
from tests.conftest import free_port

# The three Australian organisations these tests spread their work over (the sandbox's New
# Zealand one is the demo's Auckland office, for its NZD invoices).
AU_ORGANISATIONS = tuple(o for o in ORGANISATIONS if o.short != "auckland")
ORG_IDS = {o.short: o.tenant_id for o in AU_ORGANISATIONS}  # our organisation id -> Xero tenant id


class CollectingRecorder(ExchangeRecorder):
    """Keeps the exchange records it would publish, so a test can read them."""

    def __init__(self):
        super().__init__("xero", "test")
        self.records: list[dict] = []

    def publish(self, record: dict) -> None:
        super().publish(record)
        self.records.append(record)


def make_client(sim, db, box, recorder=None, limits=PacerLimits(per_minute=600), **kw):
    recorder = recorder or CollectingRecorder()
    http = httpx.Client(timeout=10, event_hooks=recorder.hooks())
    store = PostgresTokenStore(db, box)
    tokens = TokenManager(store, http, sim.token_url, XERO_CLIENT_ID, XERO_CLIENT_SECRET)
    client = XeroClient(sim.api_url, tokens, PacerGate(Pacer(limits)), recorder, http, **kw)
    return client, store, recorder


@dataclass
class Sim:
    root: str
    state: XeroState
    faults: Faults
    limits: Limits

    @property
    def api_url(self) -> str:
        return f"{self.root}/api.xro/2.0"

    @property
    def token_url(self) -> str:
        return f"{self.root}/connect/token"

    def org(self, org_id: str):
        return self.state.org(ORG_IDS[org_id])

    def sign_in(self, tenant: str | None = None) -> dict:
        """Tokens through the sandbox's bootstrap: a code exchanged at /connect/token."""
        code = httpx.get(f"{self.root}/_sandbox/authorize", params={"tenant": tenant} if tenant else None).json()["code"]
        resp = httpx.post(self.token_url, auth=(XERO_CLIENT_ID, XERO_CLIENT_SECRET),
                          data={"grant_type": "authorization_code", "code": code})
        resp.raise_for_status()
        return resp.json()

    def control(self, what: str, **body) -> dict:
        resp = httpx.post(f"{self.root}/_sandbox/{what}", json=body)
        resp.raise_for_status()
        return resp.json()


@contextlib.contextmanager
def running_simulator(limits: Limits | None = None, faults: Faults | None = None,
                      idempotency_window_seconds: float = 900, wrap=None) -> Iterator[Sim]:
    """`wrap(app)` may put a test's own ASGI layer around the simulator (e.g. slow answers)."""
    state = build_state(generate(7, 1))
    faults = faults or Faults()
    limits = limits or Limits()
    app = create_app(state, faults, limits=limits, idempotency_window_seconds=idempotency_window_seconds)
    if wrap is not None:
        app = wrap(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("Xero simulator did not start")
        time.sleep(0.02)
    try:
        yield Sim(f"http://127.0.0.1:{port}", state, faults, limits)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def add_organisations(postgres_url: str, box, sim: Sim, shared_login: bool = False, suffix: str = "") -> dict[str, str]:
    """The three sandbox organisations in the product's organisations table, each connected
    with its own refresh token (or all with one, as one Xero login reaching three).
    Returns sandbox short name -> our organisation id (`<short><suffix>`)."""
    import psycopg

    shared = sim.sign_in()["refresh_token"] if shared_login else None
    ids = {}
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for org in AU_ORGANISATIONS:
            token = shared or sim.sign_in(org.short)["refresh_token"]
            ids[org.short] = org.short + suffix
            conn.execute("insert into organisations (id, name, tenant_id, credential_sealed, credential_updated_at, status) "
                         "values (%s, %s, %s, %s, now(), 'connected')",
                         (ids[org.short], org.name + suffix, org.tenant_id, box.seal(token)))
    return ids


def invoice_body(sim: Sim, org_id: str, number: str, amount: str = "100.00", status: str = "DRAFT",
                 description: str = "Managed services") -> dict:
    """A valid ACCREC invoice for the organisation (money as strings, as the mapper writes it)."""
    contact = sorted(sim.org(org_id).contacts)[0]
    return {"Type": "ACCREC", "InvoiceNumber": number, "Contact": {"ContactID": contact},
            "Date": "2026-11-02", "DueDate": "2026-12-02", "Status": status, "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": description, "Quantity": "1.0000", "UnitAmount": amount,
                           "AccountCode": "200", "TaxType": "OUTPUT"}]}


def invoices_by_number(sim: Sim, org_id: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    with sim.state.lock:
        for inv in sim.org(org_id).invoices.values():
            if inv.get("Status") != "DELETED":
                found.setdefault(inv.get("InvoiceNumber"), []).append(inv)
    return found
