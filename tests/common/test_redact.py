"""The ConnectWise callback secret never reaches a log line or the audit log."""
from datetime import datetime, timezone

import httpx

from services.audit.entries import exchange_entry
from services.common.exchanges import exchange_record
from services.common.receiver_urls import cw_callback_url
from services.common.redact import redact_body, redact_text, redact_value

SECRET = "Zq9-s3cr3t_Value"
URL = cw_callback_url("https://cz.example.com", SECRET)


def test_the_secret_is_scrubbed_from_text_json_and_values():
    assert SECRET not in redact_text(f"callback refused at {URL}?x=1")
    assert redact_text(URL) == "https://cz.example.com/connectwise/callbacks/***"
    assert SECRET not in redact_body(f'{{"url": "{URL}", "type": "Invoice"}}')
    assert redact_value({"items": [{"url": URL, "type": "Invoice"}]}) == {
        "items": [{"url": "https://cz.example.com/connectwise/callbacks/***", "type": "Invoice"}]}
    assert redact_text("https://cz.example.com/xero/webhooks") == "https://cz.example.com/xero/webhooks"


def test_registering_the_callback_with_connectwise_lands_in_the_audit_log_without_the_secret():
    request = httpx.Request("POST", "https://cw.example.com/v4_6_release/apis/3.0/system/callbacks",
                            json={"url": URL, "type": "Invoice", "objectId": 0, "level": "All"})
    response = httpx.Response(201, json={"id": 7, "url": URL, "type": "Invoice"}, request=request)
    record = exchange_record("connectwise", "ingest", request, response, datetime.now(timezone.utc), 12.0)
    entry = exchange_entry("api.exchanges.v1", record, datetime.now(timezone.utc))
    assert SECRET not in str(record) and SECRET not in str(entry)
    assert "/connectwise/callbacks/***" in entry["request_body"]
