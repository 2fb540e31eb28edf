"""The mapper as a real process against the real broker and PostgreSQL: three
organisations, records routed by location, by member and by tag; a rule changed
mid-run applies to the next record; a record with no contact raises an
exception and no write request."""
from __future__ import annotations

import pytest
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal as D

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from services.common.codec import FramingError
from services.common.db import connect
from services.common.kafka import make_producer
from services.common.natural_key import NaturalKey
from services.common.record_kinds import DOCUMENT_KINDS, RecordKind
from services.common.topics import SYNC_EXCEPTIONS, XERO_DOCUMENT_STATES, XERO_WRITE_RESULTS, XERO_WRITES
from services.mapping import catalog as cat
from services.mapping import repository as repo
from services.mapping.rows import AccountRow, RoutingRuleRow, TaxRow

from ..conftest import free_port
from ..mapping.records import invoice, purchase_order
from tests.groups import start_at_end
from tests.stackutil import QUICK_JOIN

pytestmark = pytest.mark.integration

ORGS = ("adelaide", "sydney", "holdings")


def configure(url: str) -> dict[str, int]:
    """Three organisations with the same chart, each with its own contact ids."""
    rules = {}
    with connect(url, autocommit=True) as conn, conn.transaction():
        for org in ORGS:
            conn.execute("insert into organisations (id, name, tenant_id, status) values (%s, %s, %s, 'connected')",
                         (org, f"Harbour IT {org.title()}", f"tenant-{org}"))
            cat.store_catalog(conn, org, cat.CatalogData(
                accounts=[{"code": "200", "name": "Sales", "class": "REVENUE", "status": "ACTIVE"},
                          {"code": "300", "name": "Purchases", "class": "EXPENSE", "status": "ACTIVE"}],
                tax_rates=[{"tax_type": "OUTPUT", "name": "GST", "rate": D("10"), "applies_to": ["REVENUE"], "status": "ACTIVE"},
                           {"tax_type": "INPUT", "name": "GST in", "rate": D("10"), "applies_to": ["EXPENSE"], "status": "ACTIVE"}],
                contacts=[{"contact_id": f"{org}-acme", "contact_number": "ACME", "name": "Acme Pty Ltd", "status": "ACTIVE"},
                          {"contact_id": f"{org}-dicker", "contact_number": None, "name": "Dicker Data", "status": "ACTIVE"}]))
            for side, code, tax in (("sales", "200", "OUTPUT"), ("purchases", "300", "INPUT")):
                repo.put_mapping(conn, repo.TABLES["accounts"], AccountRow(organisation_id=org, side=side, source="*", account_code=code), "test")
                repo.put_mapping(conn, repo.TABLES["tax"], TaxRow(organisation_id=org, side=side, source="GST", tax_type=tax), "test")
        for name, rule in {
            "adelaide_location": RoutingRuleRow(kind="location", value="1", organisation_id="adelaide"),
            "sydney_location": RoutingRuleRow(kind="location", value="2", organisation_id="sydney"),
            "member": RoutingRuleRow(kind="member", value="jsmith", organisation_id="sydney"),
            "tag": RoutingRuleRow(kind="tag", caption="Xero Entity", value="Holdings", organisation_id="holdings"),
        }.items():
            rules[name] = repo.create_rule(conn, rule, "test")["id"]
    return rules


class Outputs:
    """Reads xero.writes.v1 and sync.exceptions.v1 from the beginning, keeping this run's events."""

    def __init__(self, bootstrap: str, codec, run: str):
        self.codec, self.run = codec, run
        self.consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "enable.auto.commit": False})
        parts = []
        for topic in (XERO_WRITES.name, SYNC_EXCEPTIONS.name):
            count = len(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
            parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(count)]
        self.consumer.assign(parts)
        self.writes: dict[str, tuple[bytes, dict]] = {}  # natural key -> (message key, request)
        self.exceptions: list[dict] = []

    def wait_for(self, keys: set[str], exceptions: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if keys <= set(self.writes) and len(self.exceptions) >= exceptions:
                return
            for msg in self.consumer.consume(500, 0.5):  # the shared broker holds every test's events: batches
                if msg.error():
                    continue
                try:
                    name, event = self.codec.decode(msg.value())
                except FramingError:  # another test's poison on the shared broker
                    continue
                if name == "xero_write_request" and self.run in event["natural_key"]:
                    self.writes[NaturalKey.parse(event["natural_key"]).number] = (msg.key(), event)
                elif name == "sync_exception" and self.run in event["message"]:
                    self.exceptions.append(event)
        raise AssertionError(f"waited for writes {keys - set(self.writes)} and {exceptions} exceptions; "
                             f"got {sorted(self.writes)} and {self.exceptions}")


def avro_ready(value):
    """Decimals at the schema's scale of 4, as ingest emits them."""
    if isinstance(value, D):
        return value.quantize(D("0.0001"))
    if isinstance(value, dict):
        return {k: avro_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [avro_ready(v) for v in value]
    return value


MAPPER_TOPICS = [kind.topic.name for kind in (*DOCUMENT_KINDS, RecordKind.PAYMENT, RecordKind.REFUND)] + [
    XERO_WRITE_RESULTS.name, XERO_DOCUMENT_STATES.name]


def start_mapper(kafka_bootstrap, postgres_url, tmp_path):
    # The mapper's group starts after what earlier tests left on the session's broker (some 10,000 records):
    # this test is about its own records, not about working through theirs.
    start_at_end(kafka_bootstrap, "connectzero-mapper", MAPPER_TOPICS)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CZ_")},
           "CZ_KAFKA_BOOTSTRAP": kafka_bootstrap, "CZ_POSTGRES_URL": postgres_url, "CZ_DATA_DIR": str(tmp_path),
           "CZ_MAPPER_PORT": str(free_port()), "CZ_SESSION_TIMEOUT_MS": "6000", "CZ_LOG_JSON": "false"}
    return subprocess.Popen([sys.executable, "-m", "services.mapper"], env=env,
                            stdout=open(tmp_path / "mapper.log", "wb"), stderr=subprocess.STDOUT)


def test_mapper_routes_maps_and_follows_rule_changes(kafka_bootstrap, fresh_database, codec, tmp_path):
    run = uuid.uuid4().hex[:8]
    rules = configure(fresh_database)
    outputs = Outputs(kafka_bootstrap, codec, run)
    mapper = start_mapper(kafka_bootstrap, fresh_database, tmp_path)
    producer = make_producer(kafka_bootstrap)

    def send(record):
        topic = RecordKind(record["record_type"]).topic.name
        producer.produce(topic, key=str(record["cw_id"]).encode(), value=codec.encode(
            "cw_purchase_order_changed" if record["record_type"] == "procurement" else "cw_invoice_changed", avro_ready(record)))

    try:
        send(invoice(f"A-{run}", 1, location_id=1))                                    # by location
        send(invoice(f"B-{run}", 2, location_id=7, member="jsmith"))                   # by member
        send(invoice(f"C-{run}", 3, location_id=1, account_manager="JSmith",
                     tags=[("Xero Entity", "Holdings")]))                              # tag beats member and location
        send(invoice(f"D-{run}", 4, location_id=1, company=("NEWCO", f"New Co {run}")))  # no contact
        send(invoice(f"E-{run}", 5, location_id=9))                                    # no rule, no default
        send(purchase_order(f"P-{run}", 6, location_id=2))                             # a bill, by location
        producer.flush(10)
        outputs.wait_for({f"A-{run}", f"B-{run}", f"C-{run}", f"P-{run}"}, exceptions=2)

        routed = {k: (key.decode(), e["organisation_id"]) for k, (key, e) in outputs.writes.items()}
        assert routed == {f"A-{run}": ("adelaide", "adelaide"), f"B-{run}": ("sydney", "sydney"),
                          f"C-{run}": ("holdings", "holdings"), f"P-{run}": ("sydney", "sydney")}
        body = json.loads(outputs.writes[f"A-{run}"][1]["body"])
        assert body["Contact"] == {"ContactID": "adelaide-acme"} and body["Type"] == "ACCREC" and body["Status"] == "DRAFT"
        assert json.loads(outputs.writes[f"C-{run}"][1]["body"])["Contact"] == {"ContactID": "holdings-acme"}
        bill = json.loads(outputs.writes[f"P-{run}"][1]["body"])
        assert bill["Type"] == "ACCPAY" and bill["Contact"] == {"ContactID": "sydney-dicker"}
        assert bill["LineItems"] == [{"Description": "Laptop", "Quantity": "3", "UnitAmount": "1000.00",
                                      "AccountCode": "300", "TaxType": "INPUT"}]
        by_kind = {e["kind"]: e for e in outputs.exceptions}
        assert set(by_kind) == {"missing_contact", "no_route"}
        assert by_kind["missing_contact"]["record_id"] == "4" and "NEWCO" in by_kind["missing_contact"]["message"]
        assert f"D-{run}" not in outputs.writes  # no write request for the record without a contact
        assert "location 9" in by_kind["no_route"]["message"]

        # Mid-run changes, no restart: Adelaide's location now goes to Sydney, invoices are AUTHORISED,
        # and the missing contact gets a mapping.
        with connect(fresh_database, autocommit=True) as conn, conn.transaction():
            repo.update_rule(conn, rules["adelaide_location"],
                             RoutingRuleRow(kind="location", value="1", organisation_id="sydney"), "finance")
            repo.put_settings(conn, "invoice", {"create_status": "AUTHORISED"}, "finance")
            repo.put_mapping(conn, repo.TABLES["contacts"],
                             repo.TABLES["contacts"].model(organisation_id="sydney", company_identifier="NEWCO",
                                                           contact_id="sydney-newco"), "finance")
        send(invoice(f"F-{run}", 7, location_id=1))
        send(invoice(f"G-{run}", 8, location_id=1, company=("NEWCO", f"New Co {run}")))
        producer.flush(10)
        outputs.wait_for({f"F-{run}", f"G-{run}"}, exceptions=2)
        assert outputs.writes[f"F-{run}"][1]["organisation_id"] == "sydney"
        assert json.loads(outputs.writes[f"F-{run}"][1]["body"])["Status"] == "AUTHORISED"
        assert json.loads(outputs.writes[f"G-{run}"][1]["body"])["Contact"] == {"ContactID": "sydney-newco"}
        assert len(outputs.exceptions) == 2
        with connect(fresh_database) as conn:
            status = {r["record_number"]: r for r in conn.execute(
                "select record_number, status, organisation_id, last_error from sync_records")}
        assert (status[f"A-{run}"]["status"], status[f"A-{run}"]["organisation_id"]) == ("mapped", "adelaide")
        assert (status[f"D-{run}"]["status"], status[f"D-{run}"]["organisation_id"]) == ("exception", "adelaide")
        assert "no Xero contact for company 'NEWCO'" in status[f"D-{run}"]["last_error"]
        assert status[f"E-{run}"]["status"] == "exception" and status[f"E-{run}"]["organisation_id"] is None
        assert (status[f"G-{run}"]["status"], status[f"G-{run}"]["organisation_id"]) == ("mapped", "sydney")
        assert mapper.poll() is None
    finally:
        outputs.consumer.close()
        mapper.send_signal(signal.SIGTERM)
        try:
            mapper.wait(20)
        except subprocess.TimeoutExpired:
            mapper.kill()
