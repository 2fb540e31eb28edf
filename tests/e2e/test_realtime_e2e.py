"""Real time on the whole stack, the schedule hours away: ConnectWise callbacks bring edits
into Xero in seconds, Xero webhooks bring Xero's states back onto the records, strangers
are refused at both receivers, a burst of callbacks costs few ConnectWise calls, and
ingest killed while callbacks arrive loses none."""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from services.common.codec import Codec
from services.receivers.signature import sign

from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, adelaide_customer, connectwise, new_invoice, record
from tests.stackutil import QUICK_JOIN

pytestmark = pytest.mark.stack
SECONDS = 40  # "within seconds" (bench/realtime.py measures p95 1.5 s); generous for a loaded machine; the
# schedule is six hours away, so only the real-time path can make it


def settled(admin, record_type: str, cw_id, timeout: float = 60) -> dict:
    return wait_for(lambda: (r := record(admin, record_type, cw_id)) and r["status"] in ("synced", "exception")
                    and r, timeout, what=f"{record_type} {cw_id} settled")


def fresh_invoice(cw, admin, msp, lines=((1, "2", "100.00"),)) -> tuple[dict, dict]:
    """An invoice made in ConnectWise, brought in by its callbacks alone (no cycle, no force-sync)."""
    invoice = new_invoice(cw, adelaide_customer(msp).id, list(lines))
    rec = settled(admin, "invoice", invoice["id"])
    assert rec["status"] == "synced" and rec["xero_status"] == "AUTHORISED", rec
    return invoice, rec


def bump(cw, invoice_id: int) -> Decimal:
    """Edits the invoice's first line in ConnectWise (one more of it); returns its new subtotal."""
    product = cw.get("/procurement/products", params={"conditions": f"invoice/id={invoice_id}"}).json()[0]
    assert cw.patch(f"/procurement/products/{product['id']}", json=[
        {"op": "replace", "path": "quantity", "value": float(Decimal(str(product["quantity"])) + 1)}]).status_code == 200
    return Decimal(str(cw.get(f"/finance/invoices/{invoice_id}").json()["subtotal"]))


def xero_call(xero: XeroReader, method: str, path: str, **kw) -> dict:
    return xero.call(method, path, "adelaide", **kw)


def subtotal_in_xero(xero: XeroReader, xero_id: str) -> Decimal:
    return Decimal(str(xero.one("adelaide", "Invoices", xero_id)["SubTotal"]))


def written_again(admin, rec: dict) -> dict | None:
    """The record once newer content of it is written (the test watches its own records, not Xero:
    polling Xero would spend the organisation's 60 calls a minute)."""
    now = record(admin, "invoice", rec["cw_id"])
    return now if now and now["emitted_at"] != rec["emitted_at"] and now["status"] == "synced" else None


def invoice_cycle_started(admin) -> str | None:
    return next(s["last_cycle_started"] for s in admin.get("/api/sync").json() if s["record_type"] == "invoice")


def ingest_metric(info: dict, name: str, **labels) -> float:
    text = httpx.get(info["services"]["ingest"].replace("/healthz", "/metrics"), timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def test_an_edit_in_connectwise_reaches_xero_in_seconds_with_the_schedule_hours_away(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice, rec = fresh_invoice(cw, admin, msp)
        cycle = invoice_cycle_started(admin)
        expected = bump(cw, invoice["id"])
        wait_for(lambda: written_again(admin, rec), SECONDS, interval=0.2, what="the edit written")
        assert subtotal_in_xero(xero, rec["xero_id"]) == expected
        assert invoice_cycle_started(admin) == cycle  # no cycle ran: the callback brought it


def test_strangers_are_refused_at_both_receivers_and_change_nothing(stack, msp):
    _, info = stack
    cw = connectwise(info)
    receivers = info["receivers"]
    with Stack.admin_for(info) as admin:
        invoice, rec = fresh_invoice(cw, admin, msp)
        callback = {"MessageId": "m", "Action": "updated", "Type": "invoice", "ID": invoice["id"], "Entity": "{}"}
        base = receivers["connectwise_callback_url"].rsplit("/", 1)[0]
        assert httpx.post(f"{base}/not-the-secret", json=callback).status_code == 401
        assert httpx.post(base, json=callback).status_code in (404, 405)
        forged = json.dumps({"events": [{"resourceId": rec["xero_id"], "tenantId": XeroReader(info).tenant("adelaide"),
                                         "eventCategory": "INVOICE", "eventType": "UPDATE",
                                         "eventDateUtc": "2026-11-27T10:00:00"}], "entropy": "X"}).encode()
        for signature in (sign("not-the-key", forged), ""):
            answer = httpx.post(receivers["xero_webhook_url"], content=forged, headers={"x-xero-signature": signature})
            assert answer.status_code == 401
        time.sleep(2)
        assert record(admin, "invoice", invoice["id"]) == rec


def test_an_invoice_paid_in_xero_shows_paid_on_the_record_within_seconds(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice, rec = fresh_invoice(cw, admin, msp)
        due = xero.one("adelaide", "Invoices", rec["xero_id"])["AmountDue"]
        xero_call(xero, "PUT", "/Payments", json={"Payments": [{
            "Invoice": {"InvoiceID": rec["xero_id"]}, "Account": {"Code": "090"}, "Date": "2026-11-27",
            "Amount": str(due), "Reference": "paid at the counter"}]})
        paid = wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["xero_status"] == "PAID" and r,
                        SECONDS, interval=0.2, what="PAID on the record")
        assert paid["status"] == "synced"
        assert datetime.fromisoformat(paid["xero_status_changed_at"]) > datetime.fromisoformat(rec["xero_status_changed_at"])


def test_an_invoice_voided_in_xero_raises_an_exception_and_is_not_written_over(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        invoice, rec = fresh_invoice(cw, admin, msp)
        before = subtotal_in_xero(xero, rec["xero_id"])
        xero_call(xero, "POST", "/Invoices", json={"Invoices": [{"InvoiceID": rec["xero_id"], "Status": "VOIDED"}]})
        voided = wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["xero_status"] == "VOIDED" and r,
                          SECONDS, interval=0.2, what="VOIDED on the record")
        assert voided["status"] == "exception" and "books now disagree" in voided["last_error"]
        raised = wait_for(lambda: [e for e in admin.get("/api/exceptions", params={"status": "open"}).json()["exceptions"]
                                   if e["record_id"] == str(invoice["id"]) and e["kind"] == "voided_in_xero"],
                          SECONDS, what="the exception")
        assert raised[0]["organisation_id"] == "adelaide"

        # An edit in ConnectWise afterwards is not written over what Xero now says.
        bump(cw, invoice["id"])
        wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["emitted_at"] != voided["emitted_at"]
                 and r["status"] == "exception", SECONDS * 2, what="the edit refused by the status rule")
        in_xero = xero.one("adelaide", "Invoices", rec["xero_id"])
        assert in_xero["Status"] == "VOIDED" and Decimal(str(in_xero["SubTotal"])) == before


def test_money_waiting_for_a_draft_is_written_once_the_draft_is_approved_in_xero(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    with Stack.admin_for(info) as admin:
        assert admin.put("/api/settings/invoice", json={"create_status": "DRAFT"}).status_code == 200
        try:
            invoice = new_invoice(cw, adelaide_customer(msp).id, [(1, "1", "100.00")])
            rec = wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["status"] == "synced" and r,
                           60, what="the draft written")
        finally:
            assert admin.put("/api/settings/invoice", json={"create_status": "AUTHORISED"}).status_code == 200
        assert rec["xero_status"] == "DRAFT"
        payment = cw.post(f"/finance/invoices/{invoice['id']}/payments",
                          json={"amount": "110.00", "paymentDate": "2026-11-27T00:00:00Z", "type": "Payment"}).json()
        waiting = wait_for(lambda: (r := record(admin, "payment", payment["id"])) and r["status"] == "waiting" and r,
                           SECONDS, what="the payment waiting for its draft")
        assert "DRAFT" in waiting["last_error"] or "approved" in waiting["last_error"]
        xero_call(xero, "POST", "/Invoices", json={"Invoices": [{"InvoiceID": rec["xero_id"], "Status": "AUTHORISED"}]})
        wait_for(lambda: (r := record(admin, "payment", payment["id"])) and r["status"] == "synced", SECONDS,
                 interval=0.2, what="the payment written after the approval")
        assert xero.one("adelaide", "Invoices", rec["xero_id"])["Status"] == "PAID"


def test_a_burst_of_500_callbacks_costs_at_most_20_connectwise_calls(stack):
    _, info = stack
    with Stack.admin_for(info) as admin:
        known = [int(r["cw_id"]) for r in admin.get("/api/records", params={"limit": 1000}).json()["items"]
                 if r["record_type"] in ("invoice", "credit_note")]
    ids = sorted(set(known))[:100]
    ids += [90_000_000 + n for n in range(500 - len(ids))]  # ids ConnectWise does not have
    calls_before = ingest_metric(info, "cz_api_calls_total", api="connectwise")
    fetched_before = ingest_metric(info, "cz_ingest_callback_hints_total", outcome="fetched")
    url = info["receivers"]["connectwise_callback_url"]
    with httpx.Client(timeout=10) as receivers:
        for cw_id in ids:  # as ConnectWise delivers them: one after another
            body = {"MessageId": str(uuid.uuid4()), "Action": "updated", "Type": "invoice", "ID": cw_id, "Entity": "{}"}
            assert receivers.post(url, json=body).status_code == 200
    wait_for(lambda: ingest_metric(info, "cz_ingest_callback_hints_total", outcome="fetched") - fetched_before >= 500,
             60, what="all 500 fetched")
    calls = ingest_metric(info, "cz_api_calls_total", api="connectwise") - calls_before
    print(f"a burst of 500 callbacks cost {calls:.0f} ConnectWise calls")
    assert 0 < calls <= 500 / 25


def events_since(info: dict, topic: str, since: datetime, ids: set[int]) -> list[dict]:
    codec = Codec.from_directory()
    consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": info["kafka"]["bootstrap"], "group.id": f"e2e-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    found, idle = [], time.monotonic()
    try:
        while time.monotonic() - idle < 2:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    continue
                idle = time.monotonic()
                _, event = codec.decode(msg.value())
                if event["cw_id"] in ids and event["observed_at"] >= since:
                    found.append(event)
    finally:
        consumer.close()
    return found


def test_ingest_killed_while_callbacks_arrive_loses_none(stack, msp):
    stack_obj, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    pid_of = lambda: json.loads((stack_obj.data_dir / "stack.json").read_text())["pids"]["ingest"]  # noqa: E731
    with Stack.admin_for(info) as admin:
        made = [fresh_invoice(cw, admin, msp) for _ in range(4)]
        since = datetime.now(timezone.utc)
        expected = {inv["id"]: bump(cw, inv["id"]) for inv, _ in made[:2]}  # hints in flight when it dies
        pid = pid_of()
        os.kill(pid, signal.SIGKILL)
        expected.update({inv["id"]: bump(cw, inv["id"]) for inv, _ in made[2:]})  # queued while it is down
        wait_for(lambda: pid_of() != pid, 60, what="ingest restarted")
        before = {inv["id"]: rec for inv, rec in made}

        def arrived() -> set[int]:
            return {i for i in expected if written_again(admin, before[i])}

        try:
            wait_for(lambda: arrived() == set(expected), 30, interval=0.5, what="callbacks after the restart")
        except AssertionError:
            pass  # the safety net below must catch the rest
        if arrived() != set(expected):
            assert admin.post("/api/sync/invoice/run").status_code == 202
            wait_for(lambda: arrived() == set(expected), 60, what="the next cycle")
        by = {}
        for event in events_since(info, "cw.invoices.v1", since, set(expected)):
            by.setdefault(event["cw_id"], []).append(event["trigger"])
        print("brought by:", {cw_id: by.get(cw_id) for cw_id in expected})
        assert set(by) == set(expected)
        assert {i: subtotal_in_xero(xero, before[i]["xero_id"]) for i in expected} == expected
        assert all(set(triggers) <= {"CALLBACK", "SCHEDULE"} for triggers in by.values())
