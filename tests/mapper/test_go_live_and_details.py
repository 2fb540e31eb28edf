"""The mapper and an organisation's sync settings: records before its go-live date are never
written, money follows them, write requests carry ConnectWise's total and, when the
organisation keeps customer details in step, the contact's billing details."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from services.common.lifecycle import Status
from services.common.record_kinds import RecordKind
from services.mapper.decide import decide
from services.mapper.money import Document, MoneyFacts, decide_money
from services.mapping.model import SyncSettings

from ..mapping.records import invoice, purchase_order
from .test_decide import CODEC, NOW, snapshot

BILLING = {"name": "Jo Accounts", "email": " accounts@acme.example ", "phone": "+61 8 8000 1234",
           "address_line1": "10 King William St", "address_line2": None, "city": "Adelaide", "region": "SA",
           "postal_code": "5000", "country": "Australia"}


def configured(**settings):
    snap = snapshot()
    snap.orgs["adelaide"].settings = SyncSettings(**settings)
    return snap


def test_a_record_dated_before_the_go_live_date_is_never_written():
    decision = decide(invoice(), configured(go_live_date=date(2026, 11, 3)), NOW)  # dated 2026-11-02
    assert decision.writes == [] and decision.exceptions == [] and decision.organisation_id == "adelaide"
    assert "before the go-live date 2026-11-03 of organisation adelaide" in decision.before_go_live
    bill = purchase_order()  # dated 2026-11-03: on the go-live date itself it is written
    assert decide(bill, configured(go_live_date=date(2026, 11, 3)), NOW).writes


def test_a_deletion_of_what_was_written_still_goes_through_whatever_the_go_live_date():
    record = dict(invoice(), change="DELETED")
    decision = decide(record, configured(go_live_date=date(2026, 12, 1)), NOW, written_to=["adelaide"])
    assert decision.writes and decision.writes[0][2]["operation"] == "DELETE"


def test_money_on_a_document_before_go_live_is_before_go_live_too():
    payment = {"record_type": "payment", "cw_id": 9, "invoice_id": 1001, "invoice_number": "INV-1001",
               "amount": D("10.00"), "payment_date": "2026-11-20", "change": "UPSERT", "content_hash": "p9"}
    facts = MoneyFacts([], [Document(RecordKind.INVOICE, "1001", "INV-1001", [], Status.BEFORE_GO_LIVE.value)])
    decision = decide_money(payment, facts, snapshot(), NOW)
    assert decision.writes == [] and decision.exceptions == [] and decision.hold is None
    assert "before its organisation's go-live date" in decision.before_go_live


def test_the_write_request_carries_connectwise_total_and_decodes():
    [(_, _, event)] = decide(invoice(), snapshot(), NOW).writes
    assert event["total"] == D("439.99") and event["contact_details"] is None
    _, decoded = CODEC.decode(CODEC.encode("xero_write_request", event))
    assert decoded["total"] == D("439.99")


def test_customer_details_follow_the_billing_contact_when_the_organisation_asks():
    record = dict(invoice(), billing_contact=BILLING)
    assert decide(record, snapshot(), NOW).writes[0][2]["contact_details"] is None  # off by default
    [(_, _, event)] = decide(record, configured(customer_details=True), NOW).writes
    assert json.loads(event["contact_details"]) == {
        "ContactID": "c-acme", "EmailAddress": "accounts@acme.example",
        "Addresses": [{"AddressType": "POBOX", "AddressLine1": "10 King William St", "City": "Adelaide",
                       "Region": "SA", "PostalCode": "5000", "Country": "Australia"}],
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "+61 8 8000 1234"}]}
    # A contact Xero would create from the document's name has nothing to update yet.
    snap = configured(customer_details=True)
    snap.orgs["adelaide"] = replace(snap.orgs["adelaide"], create_contacts=True)
    unknown = dict(invoice(company=("NEWCO", "New Co")), billing_contact=BILLING)
    assert decide(unknown, snap, NOW).writes[0][2]["contact_details"] is None


def test_in_a_shadow_run_what_the_mapper_decides_without_a_write_is_in_the_report(fresh_database):
    from services.common.database import Database
    from services.common.db import connect
    from services.mapper.app import MappingSource

    db = Database(fresh_database, max_size=2)
    source = MappingSource(db)
    snap = configured(mode="shadow", go_live_date=date(2026, 11, 3))
    snap.orgs["adelaide"].tax = {}  # so a record after go-live raises an exception
    source._snapshot = snap  # the configuration as the mapper last loaded it
    try:
        for record in (dict(invoice(), observed_at=NOW),  # before go-live
                       dict(invoice("INV-1002", 1002), date="2026-11-10", observed_at=NOW),
                       dict(invoice("INV-1003", 1003, tags=[("Xero Entity", "Holdings")]), observed_at=NOW)):
            source.record_status(record, decide(record, snap, NOW))
        with connect(fresh_database) as conn:
            rows = {r["cw_id"]: r for r in conn.execute("select * from shadow_outcomes")}
            statuses = {r["cw_id"]: r["status"] for r in conn.execute("select cw_id, status from sync_records")}
    finally:
        db.close()
    assert set(rows) == {"1001", "1002"}  # holdings is live: its record is in no report
    assert (rows["1001"]["outcome"], rows["1001"]["detail"]) == ("skip", "before_go_live")
    assert (rows["1002"]["outcome"], rows["1002"]["detail"]) == ("exception", "tax_mismatch")
    assert rows["1002"]["record_number"] == "INV-1002" and rows["1002"]["total"] == D("439.9900")
    assert statuses == {"1001": "before_go_live", "1002": "exception", "1003": "mapped"}
