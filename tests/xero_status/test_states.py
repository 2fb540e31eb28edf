"""Xero webhooks to record states, for real: the Xero simulator signs its events and sends
them to the receivers, which queue them on the broker; xero_status reads the documents
back from the simulator and stores their states in Postgres beside the writer's ledger."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from confluent_kafka import Consumer
from cryptography.fernet import Fernet

from services.common.database import Database
from services.common.hint_window import HintWindow
from services.common.kafka import make_producer
from services.common.lifecycle import Event
from services.common.receiver_urls import XERO_WEBHOOK_PATH
from services.common.record_status import StatusChange, record_changes
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import SYNC_COMMANDS, SYNC_EXCEPTIONS, XERO_DOCUMENT_STATES, XERO_WEBHOOKS
from services.integrations.xero.client import XeroOrg
from services.receivers.app import create_app as create_receivers
from services.receivers.queue import HintQueue
from services.common.sandbox_identity import XERO_WEBHOOK_KEY
from services.sandbox.xero.serve import serving
from services.xero_status.app import state_consumer
from services.xero_status.states import Publisher
from services.xero_status.store import StateStore
from tests.integrations.xero.sim import ORG_IDS, add_organisations, invoice_body, make_client, running_simulator
from tests.stackutil import QUICK_JOIN


def latest_consumer(bootstrap: str, topics: list[str]) -> Consumer:
    """A consumer that starts at the end of shared topics, once it holds its partitions."""
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False,
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": 20, "session.timeout.ms": 6000})
    assigned = threading.Event()
    consumer.subscribe(topics, on_assign=lambda c, parts: assigned.set())
    deadline = time.monotonic() + 20
    while not assigned.is_set() and time.monotonic() < deadline:
        consumer.consume(1, 0.2)
    assert assigned.is_set()
    return consumer


def drain(consumer: Consumer, codec, seconds: float) -> list[tuple[str, dict]]:
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.1):
            if not msg.error():
                try:
                    found.append(codec.decode(msg.value()))
                except ValueError:
                    pass
    return found


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (result := predicate()):
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


class World:
    """Invoices the writer wrote (ledger and records as it leaves them) in one organisation."""

    def __init__(self, sim, db_url: str, client, org: XeroOrg):
        self.sim, self.db_url, self.client, self.org = sim, db_url, client, org
        self.ids: dict[str, str] = {}

    def written(self, name: str, cw_id: int, status: str, in_flight: bool = False) -> str:
        number = f"RT-{uuid.uuid4().hex[:8]}"
        [element] = self.client.write(self.org, "Invoices", "PUT", [invoice_body(self.sim, "adelaide", number,
                                                                                   status=status)],
                                      str(uuid.uuid4()))
        xero_id = element["InvoiceID"]
        with psycopg.connect(self.db_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
            conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id, xero_status, natural_key,"
                         " written_hash, pending_request_id) values (%s, 'invoice', %s, %s, %s, %s, 'h', %s)",
                         (self.org.organisation_id, str(cw_id), xero_id, status, number,
                          "in-flight" if in_flight else None))
            record_changes(conn, [StatusChange("invoice", str(cw_id), Event.WRITTEN, organisation_id=self.org.organisation_id,
                                               xero_id=xero_id, xero_status=status, record_number=number)])
        self.ids[name] = xero_id
        return xero_id

    def set_status(self, name: str, status: str) -> None:
        [element] = self.client.write(self.org, "Invoices", "POST", [{"InvoiceID": self.ids[name], "Status": status}],
                                      str(uuid.uuid4()))
        assert element.get("StatusAttributeString") != "ERROR", element

    def pay(self, name: str) -> None:
        invoice = self.client.get_one(self.org, "Invoices", self.ids[name])
        [payment] = self.client.write(self.org, "Payments", "PUT", [{
            "Invoice": {"InvoiceID": self.ids[name]}, "Account": {"Code": "090"}, "Date": "2026-11-20",
            "Amount": str(invoice["AmountDue"]), "Reference": "paid by hand in Xero"}], str(uuid.uuid4()))
        assert payment.get("StatusAttributeString") != "ERROR", payment

    def record(self, cw_id: int) -> dict:
        with psycopg.connect(self.db_url, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute("select r.status, r.xero_status, r.xero_status_changed_at, r.last_error,"
                                " l.xero_status as ledger_status from sync_records r join xero_ledger l"
                                " on l.record_type = r.record_type and l.cw_id = r.cw_id"
                                " where r.record_type = 'invoice' and r.cw_id = %s", (str(cw_id),)).fetchone()


@pytest.fixture
def world(fresh_database, kafka_bootstrap, stack_dir, codec):
    box = SecretBox(Fernet.generate_key().decode())
    with running_simulator() as sim:
        orgs = add_organisations(fresh_database, box, sim)
        client, _store, recorder = make_client(sim, fresh_database, box)
        settings = Settings(data_dir=stack_dir, kafka_bootstrap=kafka_bootstrap, xero_webhook_key=XERO_WEBHOOK_KEY)
        with serving(create_receivers(settings)) as receivers:
            assert sim.control("webhooks", url=receivers + XERO_WEBHOOK_PATH)["registered"]
            world = World(sim, fresh_database, client, XeroOrg(orgs["adelaide"], ORG_IDS["adelaide"]))
            world.recorder = recorder
            yield world


def test_states_changed_in_xero_reach_the_records_we_wrote(world, fresh_database, kafka_bootstrap, codec):
    world.written("paid", 101, "AUTHORISED")
    world.written("voided", 102, "AUTHORISED")
    world.written("approved", 103, "DRAFT")
    world.written("untouched", 104, "AUTHORISED")
    world.written("busy", 105, "DRAFT", in_flight=True)
    db = Database(fresh_database)
    producer = make_producer(kafka_bootstrap)
    client = world.client
    outputs = latest_consumer(kafka_bootstrap, [XERO_DOCUMENT_STATES.name, SYNC_EXCEPTIONS.name, SYNC_COMMANDS.name])
    hints = latest_consumer(kafka_bootstrap, [XERO_WEBHOOKS.name])
    worker = state_consumer(client, StateStore(db), Publisher(producer, codec), codec, HintWindow(0.3, recheck=0.3))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(hints, producer, stop), daemon=True)
    thread.start()
    try:
        # The CREATE events of the documents just written are our own writes coming back: no call.
        world.sim.state.notify(world.org.tenant_id, "INVOICE", world.ids["untouched"], "CREATE")
        time.sleep(1.5)
        assert not [r for r in world.recorder.records if "IDs=" in r["url"]]
        before = datetime.now(timezone.utc)
        world.pay("paid")
        world.set_status("voided", "VOIDED")
        world.set_status("approved", "AUTHORISED")
        world.set_status("busy", "AUTHORISED")
        # A document nobody here wrote (made by hand in Xero): its events are let go.
        world.client.write(world.org, "Invoices", "PUT", [invoice_body(world.sim, "adelaide", "HAND-1")],
                           str(uuid.uuid4()))

        wait_until(lambda: world.record(101)["xero_status"] == "PAID" and world.record(102)["xero_status"] == "VOIDED"
                   and world.record(103)["xero_status"] == "AUTHORISED")
        assert world.record(101)["status"] == "synced" and world.record(101)["ledger_status"] == "PAID"
        assert world.record(101)["xero_status_changed_at"] >= before
        voided = world.record(102)
        assert (voided["status"], voided["ledger_status"]) == ("exception", "VOIDED")
        assert "VOIDED in Xero" in voided["last_error"] and "books now disagree" in voided["last_error"]
        assert world.record(103)["ledger_status"] == "AUTHORISED"
        assert world.record(104)["xero_status"] == "AUTHORISED"  # untouched: nothing recorded
        # busy has a write in flight: what Xero shows may be that write, so it waits.
        time.sleep(1.0)
        assert world.record(105)["xero_status"] == "DRAFT"
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("update xero_ledger set pending_request_id = null where cw_id = '105'")
        wait_until(lambda: world.record(105)["xero_status"] == "AUTHORISED")

        published = drain(outputs, codec, 2.0)
        states = {(r["cw_id"], r["xero_status"]) for name, r in published if name == "xero_document_state"
                  and r["organisation_id"] == world.org.organisation_id}
        assert states == {(101, "PAID"), (102, "VOIDED"), (103, "AUTHORISED"), (105, "AUTHORISED")}
        raised = [r for name, r in published if name == "sync_exception" and r["organisation_id"] == world.org.organisation_id]
        assert [(r["kind"], r["record_id"]) for r in raised] == [("voided_in_xero", "102")]
        assert not [r for name, r in published if name == "sync_command"
                    and r["requested_by"] == "xero webhook"]  # payments are the payment poll's

        # Xero delivering the same events again changes nothing and publishes nothing new.
        stamp = world.record(101)["xero_status_changed_at"]
        now = datetime.now(timezone.utc)
        HintQueue(kafka_bootstrap, codec).put(XERO_WEBHOOKS, [
            (f"{world.org.tenant_id}:{world.ids[name]}", {
                "event_key": name, "tenant_id": world.org.tenant_id, "event_category": "INVOICE",
                "event_type": "UPDATE", "resource_id": world.ids[name], "resource_url": None, "event_date": now,
                "received_at": now}) for name in ("paid", "voided", "approved", "busy")])
        time.sleep(1.5)
        assert [r for name, r in drain(outputs, codec, 1.0) if r.get("organisation_id") == world.org.organisation_id] == []
        assert world.record(101)["xero_status_changed_at"] == stamp and world.record(102)["status"] == "exception"
        assert worker.window.uncommitted() == {}

        # Were Xero to send payment events, two of them would ask for one payment cycle.
        HintQueue(kafka_bootstrap, codec).put(XERO_WEBHOOKS, [
            (f"{world.org.tenant_id}:p{n}", {
                "event_key": f"p{n}", "tenant_id": world.org.tenant_id, "event_category": "PAYMENT",
                "event_type": "CREATE", "resource_id": f"p{n}", "resource_url": None, "event_date": now,
                "received_at": now}) for n in range(2)])
        commands = wait_until(lambda: [r for name, r in drain(outputs, codec, 0.5) if name == "sync_command"])
        commands += [r for name, r in drain(outputs, codec, 1.0) if name == "sync_command"]
        assert [(r["action"], r["record_type"], r["requested_by"]) for r in commands] == [
            ("RUN_CYCLE", "xero_payment", "xero webhook")]
    finally:
        stop.set()
        thread.join(10)
        hints.close()
        outputs.close()
        db.close()
