"""Reading ConnectWise callbacks and Xero webhook deliveries, and Xero's signature. Pure."""
import json
from datetime import datetime, timezone

import pytest

from services.receivers.parse import BadPayload, callback_hint, webhook_events
from services.receivers.signature import same_secret, sign, verified

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_a_callback_becomes_a_hint_and_its_entity_is_ignored():
    hint = callback_hint(body(MessageId="m-1", Action="updated", Type="invoice", ID=42,
                              Entity=json.dumps({"id": 42, "total": 999})), NOW)
    assert hint == {"callback_id": "m-1", "cw_type": "invoice", "cw_id": 42, "action": "updated", "received_at": NOW}
    po = callback_hint(body(Type="PurchaseOrder", ID="7", Action="added"), NOW)
    assert (po["cw_type"], po["cw_id"], po["action"]) == ("purchaseorder", 7, "added") and po["callback_id"]


def test_a_callback_type_ingest_does_not_follow_is_no_hint():
    assert callback_hint(body(Type="Ticket", ID=5, Action="updated"), NOW) is None


@pytest.mark.parametrize("raw, field", [
    (b"not json", "body"), (b"[1]", "body"), (body(ID=1), "Type"), (body(Type="invoice"), "ID"),
    (body(Type="invoice", ID="x"), "ID"), (body(Type="invoice", ID=-3), "ID"), (body(Type="invoice", ID=True), "ID"),
    (body(Type="invoice", ID=1, Action="moved"), "Action"),
])
def test_a_bad_callback_names_its_field(raw, field):
    with pytest.raises(BadPayload) as caught:
        callback_hint(raw, NOW)
    assert caught.value.field == field


EVENT = {"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/abc", "resourceId": "abc",
         "eventDateUtc": "2026-11-27T11:59:58.123", "eventType": "UPDATE", "eventCategory": "INVOICE",
         "tenantId": "t-1", "tenantType": "ORGANISATION"}


def test_webhook_events_and_the_handshake():
    assert webhook_events(body(events=[], firstEventSequence=0, lastEventSequence=0, entropy="X"), NOW) == []
    [event] = webhook_events(body(events=[EVENT], firstEventSequence=1, lastEventSequence=1, entropy="Y"), NOW)
    assert (event["tenant_id"], event["event_category"], event["event_type"], event["resource_id"]) == (
        "t-1", "INVOICE", "UPDATE", "abc")
    assert event["event_date"] == datetime(2026, 11, 27, 11, 59, 58, 123000, tzinfo=timezone.utc)
    # Delivered again (Xero retries): the same key, so nothing downstream counts it twice.
    [again] = webhook_events(body(events=[EVENT], entropy="Z"), NOW)
    assert again["event_key"] == event["event_key"]


@pytest.mark.parametrize("raw, field", [
    (body(nothing=1), "events"), (body(events=[1]), "events[0]"),
    (body(events=[{**EVENT, "tenantId": ""}]), "events[0].tenantId"),
    (body(events=[EVENT, {k: v for k, v in EVENT.items() if k != "resourceId"}]), "events[1].resourceId"),
])
def test_a_bad_webhook_names_its_field(raw, field):
    with pytest.raises(BadPayload) as caught:
        webhook_events(raw, NOW)
    assert caught.value.field == field


def test_signature_is_hmac_sha256_of_the_raw_body():
    raw = body(events=[EVENT])
    good = sign("key", raw)
    assert verified("key", raw, good)
    assert not verified("key", raw + b" ", good)  # the exact bytes are signed
    assert not verified("other", raw, good)
    assert not verified("", raw, sign("", raw))  # no key configured: nothing is verified
    assert not verified("key", raw, None)
    assert same_secret("s3cret", "s3cret") and not same_secret("s3cret", "s3cres") and not same_secret("", "")
