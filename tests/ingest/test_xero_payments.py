"""The Xero payments poll against the real Xero simulator, Postgres and broker:
payments, overpayments and prepayments (with their allocations) become
`xero.payments.v1` events once each, on the cadence, on `run` and on force-sync."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from cryptography.fernet import Fernet

from services.common.codec import FramingError
from services.common.database import Database
from services.common.exchanges import ExchangeRecorder
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import XERO_PAYMENTS
from services.common.kafka import make_producer
from services.common.commands import Command
from services.ingest.commands import CommandHandler
from services.ingest.cycle import Emitter, Pipeline
from services.ingest.scheduler import Scheduler
from services.ingest.store import Store
from services.ingest.xero_payment_store import XeroPaymentStore, source
from services.ingest.xero_payments import XeroPayments
from services.integrations.xero.factory import xero_client
from services.common.api_usage import ApiUsage
from services.integrations.xero.client import XeroOrg
from services.common.sandbox_identity import XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.xero.ratelimit import Limits as SimLimits
from tests.integrations.xero.sim import ORG_IDS, add_organisations, invoice_body, running_simulator
from tests.stackutil import QUICK_JOIN

pytestmark = pytest.mark.integration


class Recorder(ExchangeRecorder):
    def __init__(self):
        super().__init__("xero", "ingest")
        self.records: list[dict] = []

    def publish(self, record: dict) -> None:
        super().publish(record)
        self.records.append(record)


class Events:
    """Reads xero.payments.v1 from the start, keeping this test's organisations only."""

    def __init__(self, bootstrap: str, codec, orgs: set[str]):
        self.codec, self.orgs, self.seen = codec, orgs, []
        self.consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
        # Assigned, not subscribed: no group to join, so nothing is missed while one forms.
        self.consumer.assign([TopicPartition(XERO_PAYMENTS.name, p, OFFSET_BEGINNING)
                              for p in range(XERO_PAYMENTS.partitions)])

    def read(self, seconds: float = 3.0) -> list[dict]:
        new, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(200, 0.2):
                if msg.error():
                    continue
                try:
                    name, record = self.codec.decode(msg.value())
                except FramingError:  # another test's poison on the shared broker
                    continue
                if record["organisation_id"] in self.orgs:
                    assert msg.key().decode() == record["payment_id"]
                    new.append(record)
        self.seen += new
        return new


@pytest.fixture
def world(fresh_database, kafka_bootstrap, codec, tmp_path):
    key = Fernet.generate_key().decode()
    with running_simulator(limits=SimLimits(per_minute=600)) as sim:
        suffix = f"-{uuid.uuid4().hex[:6]}"
        ids = add_organisations(fresh_database, SecretBox(key), sim, suffix=suffix)
        settings = Settings(postgres_url=fresh_database, xero_url=sim.api_url, xero_token_url=sim.token_url,
                            xero_client_id=XERO_CLIENT_ID, xero_client_secret=XERO_CLIENT_SECRET, secret_key=key,
                            data_dir=tmp_path, xero_limit_per_minute=600)
        recorder = Recorder()
        producer = make_producer(kafka_bootstrap)
        db = Database(fresh_database)
        poll = XeroPayments(xero_client(settings, recorder, ApiUsage(db).count_call), XeroPaymentStore(db), Emitter(producer, codec))
        events = Events(kafka_bootstrap, codec, set(ids.values()))
        token = sim.sign_in()["access_token"]
        api = httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {token}",
                                                           "Accept": "application/json"}, timeout=10)
        yield sim, ids, poll, events, recorder, api
        events.consumer.close()
        producer.flush(5)


def call(api, short: str, method: str, path: str, **kw) -> dict:
    resp = api.request(method, path, headers={"xero-tenant-id": ORG_IDS[short]}, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def authorised_invoice(sim, api, short: str, number: str, amount: str) -> dict:
    return call(api, short, "PUT", "/Invoices", json={"Invoices": [invoice_body(sim, short, number, amount,
                                                                                 status="AUTHORISED")]})["Invoices"][0]


def pay(api, short: str, invoice: dict, amount: str) -> dict:
    return call(api, short, "PUT", "/Payments", json={"Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]},
                                                                    "Account": {"Code": "090"}, "Amount": amount}]})[
        "Payments"][0]


def org(ids, short) -> XeroOrg:
    return XeroOrg(ids[short], ORG_IDS[short])


def test_payments_overpayments_and_prepayments_become_events_once(world, fresh_database):
    sim, ids, poll, events, recorder, api = world
    invoice = authorised_invoice(sim, api, "adelaide", "INV-7001", "100.00")  # 110.00 with tax
    payment = pay(api, "adelaide", invoice, "60.00")
    other = authorised_invoice(sim, api, "adelaide", "INV-7002", "200.00")
    over = httpx.post(f"{sim.root}/_sandbox/xero/overpay", json={"organisation": "adelaide",
                                                                  "invoice_number": "INV-7002", "amount": "250.00"}).json()
    contact = other["Contact"]["ContactID"]
    prepaid = httpx.post(f"{sim.root}/_sandbox/xero/prepay", json={"organisation": "adelaide", "contact_id": contact,
                                                                    "amount": "30.00", "reference": "deposit"}).json()
    call(api, "adelaide", "PUT", f"/Prepayments/{prepaid['prepaymentId']}/Allocations",
         json={"Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": "20.00"}]})

    result = poll.run_cycle(org(ids, "adelaide"))
    got = {e["payment_id"]: e for e in events.read()}
    # three payments (one the bank side of the overpayment), the overpayment, the prepayment, its allocation
    assert result.emitted == len(got) == 6
    first = got[payment["PaymentID"]]
    assert (first["source"], first["invoice_number"], first["amount"], first["status"], first["payment_type"]) == (
        "payment", "INV-7001", Decimal("60.0000"), "AUTHORISED", "ACCRECPAYMENT")
    assert first["invoice_id"] == invoice["InvoiceID"] and first["contact_id"] == invoice["Contact"]["ContactID"]
    credit = got[over["overpaymentId"]]
    assert (credit["source"], credit["amount"], credit["payment_type"]) == ("overpayment", Decimal("30.0000"),
                                                                            "RECEIVE-OVERPAYMENT")
    assert "INV-7002" in credit["reference"]
    (allocation,) = [e for e in got.values() if e["source"] == "allocation"]
    assert (allocation["parent_id"], allocation["invoice_number"], allocation["amount"]) == (
        prepaid["prepaymentId"], "INV-7001", Decimal("20.0000"))
    assert got[prepaid["prepaymentId"]]["amount"] == Decimal("10.0000")

    with psycopg.connect(fresh_database) as conn:
        due = dict(conn.execute("select invoice_number, amount_due from xero_invoice_balances"
                                " where organisation_id = %s", (ids["adelaide"],)).fetchall())
        assert due == {"INV-7001": Decimal("30.0000"), "INV-7002": Decimal("0.0000")}
        statuses = conn.execute("select status, organisation_id from sync_records where record_type = 'xero_payment'"
                                " and cw_id = %s", (payment["PaymentID"],)).fetchone()
        assert statuses == ("pending", ids["adelaide"])

    # Nothing changed: nothing emitted, and Xero was asked only for what changed since the cursor.
    assert poll.run_cycle(org(ids, "adelaide")).emitted == 0 and events.read(1) == []
    last = [r for r in recorder.records if "/Payments" in r["url"]][-1]
    assert "if-modified-since" in {k.lower() for k in last["request_headers"]}

    # Deleted in Xero: the payment comes again, DELETED.
    call(api, "adelaide", "POST", f"/Payments/{payment['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]})
    poll.run_cycle(org(ids, "adelaide"))
    (deleted,) = events.read()
    assert (deleted["payment_id"], deleted["status"]) == (payment["PaymentID"], "DELETED")

    # Force-sync of one payment, or one allocation, emits it whatever its hash.
    assert poll.force_sync(allocation["payment_id"]) == 1
    (forced,) = events.read()
    assert (forced["payment_id"], forced["trigger"]) == (allocation["payment_id"], "FORCE_SYNC")
    with pytest.raises(LookupError):
        poll.force_sync(str(uuid.uuid4()))


def test_run_and_the_cadence_decide_when_each_organisation_is_polled(world, fresh_database, codec, kafka_bootstrap):
    sim, ids, poll, events, recorder, api = world
    invoice = authorised_invoice(sim, api, "sydney", "INV-7101", "50.00")
    pipeline = Pipeline(None, Store(Database(fresh_database)), Emitter(make_producer(kafka_bootstrap), codec))
    scheduler = Scheduler(pipeline, record_types=(), xero_payments=poll)
    assert {r.organisation_id for r in scheduler.tick()} == set(ids.values())  # never polled: due
    assert scheduler.tick() == []  # the cadence (6 hours by default) has not passed

    pay(api, "sydney", invoice, "55.00")
    handler = CommandHandler(pipeline, codec, scheduler.wake, xero_payments=poll)
    handler.execute(Command("c1", "RUN_CYCLE", "xero_payment"))
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select last_cycle_status from sync_cursors where source = %s",
                            (source(ids["sydney"]),)).fetchone()[0] == "requested"
    assert len(scheduler.tick()) == 3
    (paid,) = events.read()
    assert (paid["invoice_number"], paid["amount"]) == ("INV-7101", Decimal("55.0000"))

    # A replay re-emits the window's payments whatever their hash.
    sim.control("clock", advance_seconds=60)
    handler.execute(Command("c2", "REPLAY", "xero_payment", window_from=paid["updated_at"] - timedelta(seconds=1),
                            window_to=paid["updated_at"] + timedelta(seconds=1)))
    (again,) = events.read()
    assert (again["payment_id"], again["trigger"]) == (paid["payment_id"], "REPLAY")


def test_a_poll_reads_every_page_in_id_order_and_emits_each_payment_once(world, fresh_database):
    sim, ids, poll, events, recorder, api = world
    paged = XeroPayments(poll.client, poll.store, poll.emitter, page_size=2)
    invoices = [authorised_invoice(sim, api, "holdings", f"INV-72{n:02}", "10.00") for n in range(5)]
    payments = [pay(api, "holdings", invoice, "4.00") for invoice in invoices]

    result = paged.run_cycle(org(ids, "holdings"))
    got = events.read()
    assert sorted(e["payment_id"] for e in got) == sorted(p["PaymentID"] for p in payments)  # none lost, none twice
    assert (result.seen, result.emitted, result.invoices) == (5, 5, 5)
    pages, orders = {}, set()
    for r in recorder.records:
        query = httpx.URL(r["url"]).params
        if r["method"] == "GET" and query.get("pageSize") == "2":
            pages.setdefault(httpx.URL(r["url"]).path.rsplit("/", 1)[-1], []).append(int(query["page"]))
            orders.add(query["order"])
            # In the audit log by organisation: a page holds many payments, so it names none (docs/payments.md).
            assert (r["record_type"], r["organisation_id"], r["record_id"]) == ("xero_payment", ids["holdings"], None)
    assert orders == {"PaymentID ASC", "OverpaymentID ASC", "PrepaymentID ASC", "InvoiceID ASC"}
    # Two full pages and a short last one; Overpayments and Prepayments end on their empty first page.
    assert pages == {"Payments": [1, 2, 3], "Overpayments": [1], "Prepayments": [1], "Invoices": [1, 2, 3]}
    with psycopg.connect(fresh_database) as conn:
        due = conn.execute("select count(*) from xero_invoice_balances where organisation_id = %s"
                           " and amount_due = 7", (ids["holdings"],)).fetchone()[0]
    assert due == 5
    with pytest.raises(ValueError, match="page_size"):
        XeroPayments(poll.client, poll.store, poll.emitter, page_size=1001)
