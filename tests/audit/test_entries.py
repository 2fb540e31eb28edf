"""Messages into audit entries: columns, summaries, ids, redaction."""
from datetime import datetime, timezone
import json

from services.audit.entries import COLUMNS, entry_from_message, event_entry_id

from .factories import exchange, sync_command, sync_exception, write_result

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)


def test_an_exchange_keeps_request_and_response_and_redacts_again():
    record = exchange(
        url="https://identity.xero.com/connect/token?refresh_token=abc123",
        request_headers={"Authorization": "Bearer eyJsecret", "Accept": "application/json"},
        request_body="grant_type=refresh_token&refresh_token=rt-secret-1",
        response_body=json.dumps({"access_token": "at-secret-2", "expires_in": 1800}),
        error="token call failed for Bearer eyJsecret",
    )
    row = entry_from_message("api.exchanges.v1", "api_exchange", record, b"ignored", None)
    assert set(row) == set(COLUMNS)
    assert row["entry_id"] == record["exchange_id"] and row["kind"] == "exchange"
    stored = json.dumps(row, default=str)
    for secret in ("eyJsecret", "rt-secret-1", "at-secret-2", "abc123"):
        assert secret not in stored
    assert json.loads(row["request_headers"]) == {"Authorization": "***", "Accept": "application/json"}
    assert row["status"] == "200" and row["customer"] == "Acme Pty Ltd"
    assert row["summary"].startswith("POST https://identity.xero.com/connect/token")


def test_an_exchange_without_response_says_so():
    row = entry_from_message("api.exchanges.v1", "api_exchange", exchange(status=0, response_body=None, error="ConnectError: refused"), b"", None)
    assert "no response" in row["summary"] and "ConnectError" in row["summary"]


def test_events_get_filter_columns_summary_and_exact_money_in_the_payload():
    value = b"framed bytes"
    row = entry_from_message("xero.write_results.v1", "xero_write_result", write_result(written_at=NOW), value, None)
    assert (row["record_type"], row["record_id"], row["organisation_id"], row["status"]) == ("procurement", "77", "org-b", "FAILED")
    assert "Xero kept answering 503" in row["summary"]
    assert json.loads(row["payload"])["total"] == "1234.5600"
    assert row["at"] == NOW
    assert row["entry_id"] == event_entry_id("xero.write_results.v1", value)

    exc = entry_from_message("sync.exceptions.v1", "sync_exception", sync_exception(), b"v2", None)
    assert exc["status"] == "EXCEPTION" and exc["customer"] == "Acme Pty Ltd" and "missing_contact" in exc["summary"]
    cmd = entry_from_message("sync.commands.v1", "sync_command", sync_command(), b"v3", None)
    assert (cmd["record_type"], cmd["record_id"], cmd["status"]) == ("credit_note", "555", "FORCE_SYNC")


def test_the_same_message_gets_the_same_entry_id_and_another_a_new_one():
    assert event_entry_id("t", b"a") == event_entry_id("t", b"a")
    assert event_entry_id("t", b"a") != event_entry_id("t", b"b")
    assert event_entry_id("t", b"a") != event_entry_id("u", b"a")


def test_secret_fields_in_an_event_payload_are_redacted():
    record = sync_exception(details={"refresh_token": "rt-very-secret", "contact": "Acme"})
    row = entry_from_message("sync.exceptions.v1", "sync_exception", record, b"x", None)
    assert "rt-very-secret" not in row["payload"] and json.loads(row["payload"])["details"]["contact"] == "Acme"


def test_time_falls_back_to_the_kafka_timestamp():
    record = {"change_id": "c1", "table": "organisations", "key": "org-a", "action": "UPDATE", "actor": "ops",
              "before": None, "after": None, "changed_at": None}
    row = entry_from_message("config.changes.v1", "config_change", record, b"x", int(NOW.timestamp() * 1000))
    assert row["at"] == NOW and row["summary"] == "organisations org-a UPDATE by ops"


def test_secrets_inside_json_carried_as_a_string_are_redacted():
    record = {"change_id": "c2", "table": "organisations", "key": "sydney", "action": "UPDATE", "actor": "ops",
              "before": json.dumps({"name": "Sydney", "refresh_token": "rt-inner-secret"}),
              "after": json.dumps({"name": "Sydney Pty", "client_secret": "cs-inner-secret"}), "changed_at": NOW}
    row = entry_from_message("config.changes.v1", "config_change", record, b"y", None)
    assert "rt-inner-secret" not in row["payload"] and "cs-inner-secret" not in row["payload"]
    after = json.loads(json.loads(row["payload"])["after"])
    assert after == {"name": "Sydney Pty", "client_secret": "***"}


def test_real_time_hints_and_xero_states_land_in_the_record_history():
    state = {"record_type": "invoice", "cw_id": 123, "organisation_id": "adelaide", "xero_id": "x-9",
             "xero_status": "VOIDED", "previous_status": "AUTHORISED", "removed_in_xero": True, "changed_at": NOW}
    row = entry_from_message("xero.document_states.v1", "xero_document_state", state, b"s1", None)
    assert (row["record_type"], row["record_id"], row["organisation_id"], row["status"]) == (
        "invoice", "123", "adelaide", "VOIDED")
    assert "is VOIDED in Xero (was AUTHORISED)" in row["summary"] and "books now disagree" in row["summary"]
    assert row["at"] == NOW
    hint = {"callback_id": "m", "cw_type": "invoice", "cw_id": 123, "action": "updated", "received_at": NOW}
    callback = entry_from_message("cw.callbacks.v1", "cw_callback", hint, b"c1", None)
    assert (callback["record_id"], callback["status"], callback["at"]) == ("123", "updated", NOW)
    event = {"event_key": "k", "tenant_id": "t", "event_category": "INVOICE", "event_type": "UPDATE",
             "resource_id": "x-9", "resource_url": None, "event_date": None, "received_at": NOW}
    webhook = entry_from_message("xero.webhooks.v1", "xero_webhook_event", event, b"w1", None)
    assert (webhook["record_id"], webhook["status"]) == ("x-9", "UPDATE") and "Xero webhook: INVOICE" in webhook["summary"]
