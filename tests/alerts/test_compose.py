"""The alert emails' words and links."""
from datetime import date, datetime, timezone

from services.alerts.compose import digest_email, immediate_email, kind_email
from services.alerts.condition_mail import condition_email
from services.common.links import force_sync_link, record_page

ADMIN = "https://cz.example.com:8080/"
AT = datetime(2026, 11, 25, 8, 15, tzinfo=timezone.utc)


def exc(**overrides):
    row = {"id": 1, "kind": "missing_contact", "record_type": "invoice", "record_id": "1001", "organisation_id": "org-a",
           "customer": "Acme Pty Ltd", "message": "no Xero contact for Acme Pty Ltd", "audit_entry_id": "abc-123",
           "first_seen": AT, "last_seen": AT, "occurrences": 1}
    row.update(overrides)
    return row


def test_immediate_email_names_the_problem_and_links_to_its_console_pages():
    msg = immediate_email(exc(), ADMIN, "cz@example.com", ["finance@example.com", "ops@example.com"])
    body = msg.get_content()
    assert msg["Subject"] == "[Connect Zero] invoice 1001: missing_contact"
    assert msg["To"] == "finance@example.com, ops@example.com"
    for text in ("missing_contact", "invoice 1001 (Acme Pty Ltd)", "org-a", "no Xero contact for Acme Pty Ltd",
                 "https://cz.example.com:8080/exceptions/1", "https://cz.example.com:8080/audit/abc-123",
                 "https://cz.example.com:8080/records/invoice/1001  (Force sync is on that page)"):
        assert text in body
    assert "/api/" not in body  # a person clicks these: no JSON route, which would answer 401 in a browser


def test_links_escape_odd_ids_and_missing_parts_are_said_plainly():
    assert force_sync_link(ADMIN, "xero_payment", "a/b c") == "https://cz.example.com:8080/api/records/xero_payment/a%2Fb%20c/force-sync"
    assert record_page(ADMIN, "xero_payment", "a/b c") == "https://cz.example.com:8080/records/xero_payment/a%2Fb%20c"
    body = immediate_email(exc(audit_entry_id=None, organisation_id="", occurrences=3), ADMIN, "a@b.c", ["d@e.f"]).get_content()
    assert "Audit entry:   none recorded" in body and "not routed yet" in body and "seen 3 times" in body


def test_digest_lists_every_exception_grouped_by_record_type():
    items = [exc(), exc(id=2, record_type="procurement", record_id="77", kind="unknown_account", audit_entry_id="e-77"),
             exc(id=3, record_id="1002", audit_entry_id="e-1002")]
    msg = digest_email(items, date(2026, 11, 25), ADMIN, "cz@example.com", ["finance@example.com"])
    body = msg.get_content()
    assert msg["Subject"] == "[Connect Zero] Daily digest 2026-11-25: 3 exceptions (2 invoice, 1 purchase order)"
    assert body.index("Invoice (2)") < body.index("Purchase order (1)")
    for entry in ("abc-123", "e-77", "e-1002"):
        assert f"/audit/{entry}" in body
    assert "/records/procurement/77  (Force sync" in body and "/exceptions/2" in body


def test_a_burst_of_one_kind_is_one_email_naming_every_record():
    burst = [exc(id=i, record_id=str(2000 + i), audit_entry_id=f"e-{i}") for i in range(60)]
    msg = kind_email("missing_contact", burst, ADMIN, "cz@example.com", ["finance@example.com"])
    body = msg.get_content()
    assert msg["Subject"] == "[Connect Zero] 60 records: missing_contact (invoice 2000, invoice 2001, invoice 2002, ...)"
    assert body.count("Kind:          missing_contact") == 50  # described in full, up to 50
    assert "And 10 more: invoice 2050, invoice 2051" in body and "Record:        invoice 2050" not in body
    single = kind_email("missing_contact", burst[:1], ADMIN, "cz@example.com", ["finance@example.com"])
    assert single["Subject"] == "[Connect Zero] invoice 2000: missing_contact"  # one alone reads as before


def episode(**overrides):
    row = {"id": 7, "kind": "connectwise_outage", "subject": "connectwise", "message": "ConnectWise is failing: 3 cycles",
           "opened_at": AT, "resolved_at": None, "notified_at": None, "recovery_notified_at": None}
    row.update(overrides)
    return row


def test_a_condition_is_told_when_it_begins_when_it_ends_or_both_at_once():
    later = AT.replace(hour=9, minute=0)
    began = condition_email(episode(), [], ADMIN, "cz@example.com", ["finance@example.com"])
    assert began["Subject"] == "[Connect Zero] ConnectWise is failing"
    assert "3 cycles" in began.get_content() and "one more when it ends" in began.get_content()
    ended = condition_email(episode(resolved_at=later, notified_at=AT), [], ADMIN, "cz@example.com", ["f@example.com"])
    assert ended["Subject"] == "[Connect Zero] ConnectWise is answering again"
    assert "since 2026-11-25 09:00 UTC" in ended.get_content()
    both = condition_email(episode(resolved_at=later), [], ADMIN, "cz@example.com", ["f@example.com"])
    assert both["Subject"] == "[Connect Zero] ConnectWise is failing (over now)"
    assert "from 2026-11-25 08:15 UTC to 2026-11-25 09:00 UTC" in both.get_content()
    lost = condition_email(episode(kind="xero_credential", subject="sydney"),
                           [{"record_type": "invoice", "record_id": "1001"}, {"record_type": "credit_note", "record_id": "9"}],
                           ADMIN, "cz@example.com", ["f@example.com"])
    assert lost["Subject"] == "[Connect Zero] Xero connection lost for organisation sydney"
    assert "Waiting: invoice 1001, credit note 9." in lost.get_content()


def test_a_lost_or_lapsing_xero_connection_links_to_the_organisations_page_where_reconnect_is():
    for kind in ("xero_credential", "xero_token_expiring"):
        body = condition_email(episode(kind=kind, subject="sydney"), [], ADMIN, "cz@example.com",
                               ["f@example.com"]).get_content()
        assert "Reconnect to Xero: https://cz.example.com:8080/organisations/sydney\n" in body, body
        assert "/api/" not in body
    outage = condition_email(episode(), [], ADMIN, "cz@example.com", ["f@example.com"]).get_content()
    assert "Console: https://cz.example.com:8080/\n" in outage  # ConnectWise's outage is no organisation's
