"""The mapper's decision for one record, without Kafka: write request or exceptions."""
import json
from datetime import datetime, timezone
from decimal import Decimal as D

from services.common.codec import Codec
from services.mapper.decide import decide
from services.mapping.model import DEFAULT_PRIORITY, Rule, Snapshot

from ..mapping.records import australian_org, invoice, purchase_order

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
CODEC = Codec.from_directory()


def snapshot(**create_status):
    rules = [Rule(1, "location", "1", "adelaide", DEFAULT_PRIORITY["location"]),
             Rule(2, "tag", "Holdings", "holdings", DEFAULT_PRIORITY["tag"], "Xero Entity")]
    orgs = {"adelaide": australian_org("adelaide"), "holdings": australian_org("holdings")}
    return Snapshot(7, rules, orgs, {"invoice": "DRAFT", **create_status})


def test_mapped_invoice_becomes_a_write_request_keyed_by_organisation():
    decision = decide(invoice(), snapshot(invoice="AUTHORISED"), NOW)
    assert decision.exceptions == [] and len(decision.writes) == 1
    topic, key, event = decision.writes[0]
    assert topic == "xero.writes.v1" and key == b"adelaide"
    assert event["organisation_id"] == "adelaide" and event["endpoint"] == "Invoices" and event["operation"] == "UPSERT"
    assert event["natural_key"] == "INV-1001" and event["cw_id"] == 1001 and event["content_hash"] == "h1001"
    body = json.loads(event["body"])
    assert body["Status"] == "AUTHORISED" and body["LineItems"][1]["UnitAmount"] == "99.99"
    assert sum(D(i["UnitAmount"]) * D(i["Quantity"]) for i in body["LineItems"]) == D("399.99")
    CODEC.decode(CODEC.encode("xero_write_request", event))  # valid against the schema
    # The same record delivered twice yields the same request id.
    assert decide(invoice(), snapshot(), NOW).writes[0][2]["request_id"] == event["request_id"]


def test_tag_routes_to_holdings():
    decision = decide(invoice(tags=[("Xero Entity", "Holdings")]), snapshot(), NOW)
    assert decision.writes[0][1] == b"holdings" and "tag Xero Entity=Holdings" in decision.reason


def test_record_without_contact_raises_exception_and_no_write():
    decision = decide(invoice(company=("NEWCO", "New Co")), snapshot(), NOW)
    assert decision.writes == []
    [(topic, key, event)] = decision.exceptions
    assert topic == "sync.exceptions.v1" and key == b"invoice:1001"
    assert event["kind"] == "missing_contact" and event["organisation_id"] == "adelaide" and event["customer"] == "NEWCO"
    assert event["message"].startswith("invoice INV-1001 (ConnectWise id 1001) for organisation adelaide: no Xero contact")
    assert event["details"]["field"] == "company_identifier" and event["details"]["value"] == "NEWCO"
    CODEC.decode(CODEC.encode("sync_exception", event))


def test_unroutable_record_is_a_no_route_exception():
    decision = decide(invoice(location_id=42), snapshot(), NOW)
    [(_, _, event)] = decision.exceptions
    assert event["kind"] == "no_route" and event["organisation_id"] is None
    assert "location 42" in event["message"] and event["details"]["location"] == "42"


def test_route_to_a_disabled_organisation_is_an_exception():
    snap = snapshot()
    snap.orgs["adelaide"].status = "disabled"
    [(_, _, event)] = decide(invoice(), snap, NOW).exceptions
    assert event["kind"] == "no_route" and "is disabled" in event["message"]


def test_deleted_record_asks_the_writer_to_remove_it():
    record = dict(invoice(), change="DELETED")
    [(_, _, event)] = decide(record, snapshot(), NOW).writes
    assert event["operation"] == "DELETE" and json.loads(event["body"]) == {"InvoiceNumber": "INV-1001", "Status": "DELETED"}


def test_purchase_order_is_a_draft_bill_whatever_the_setting():
    [(_, _, event)] = decide(purchase_order(), snapshot(procurement="AUTHORISED"), NOW).writes
    body = json.loads(event["body"])
    assert body["Type"] == "ACCPAY" and body["Status"] == "DRAFT"


def test_deletion_goes_where_the_record_was_written_whatever_the_rules_say_now():
    record = dict(invoice(location_id=1), change="DELETED")  # the rules now say adelaide
    decision = decide(record, snapshot(), NOW, written_to=["holdings"])
    assert [(key, event["operation"], event["organisation_id"]) for _, key, event in decision.writes] == [
        (b"holdings", "DELETE", "holdings")]
    # A record never written is deleted where the rules send it (the writer finds nothing to remove).
    assert decide(record, snapshot(), NOW, written_to=[]).writes[0][1] == b"adelaide"


def test_update_of_a_record_the_rules_now_send_elsewhere_is_an_exception():
    record = invoice(location_id=1)  # written to holdings, the rules now say adelaide
    decision = decide(record, snapshot(), NOW, written_to=["holdings"])
    assert decision.writes == [] and decision.organisation_id == "holdings"
    [(_, _, event)] = decision.exceptions
    assert event["kind"] == "route_changed" and event["details"]["routes_to"] == "adelaide"
    assert "is in Xero organisation holdings but now routes to adelaide" in event["message"]
    # Still in the organisation the rules choose: an ordinary update.
    assert decide(record, snapshot(), NOW, written_to=["adelaide"]).writes[0][2]["operation"] == "UPSERT"


def test_an_invoice_voided_in_connectwise_is_voided_where_it_was_written_or_skipped_if_never_written():
    voided = invoice()
    voided["status"] = "Void"
    decision = decide(voided, snapshot(), NOW, written_to=["adelaide"])
    [(_, key, event)] = decision.writes
    assert key == b"adelaide" and event["operation"] == "VOID" and event["endpoint"] == "Invoices"
    never = decide(voided, snapshot(), NOW, written_to=[])
    assert never.skip and not never.writes and not never.exceptions
