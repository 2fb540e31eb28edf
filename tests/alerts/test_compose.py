"""The alert emails' words and links."""
from datetime import date, datetime, timezone

from services.alerts.compose import digest_email, immediate_email
from services.common.links import force_sync_link

ADMIN = "https://cz.example.com:8080/"
AT = datetime(2026, 11, 25, 8, 15, tzinfo=timezone.utc)


def exc(**overrides):
    row = {"id": 1, "kind": "missing_contact", "record_type": "invoice", "record_id": "1001", "organisation_id": "org-a",
           "customer": "Acme Pty Ltd", "message": "no Xero contact for Acme Pty Ltd", "audit_entry_id": "abc-123",
           "first_seen": AT, "last_seen": AT, "occurrences": 1}
    row.update(overrides)
    return row


def test_immediate_email_names_the_problem_and_links_to_audit_and_force_sync():
    msg = immediate_email(exc(), ADMIN, "cz@example.com", ["finance@example.com", "ops@example.com"])
    body = msg.get_content()
    assert msg["Subject"] == "[Connect Zero] invoice 1001: missing_contact"
    assert msg["To"] == "finance@example.com, ops@example.com"
    for text in ("missing_contact", "invoice 1001 (Acme Pty Ltd)", "org-a", "no Xero contact for Acme Pty Ltd",
                 "https://cz.example.com:8080/api/audit/abc-123",
                 "POST https://cz.example.com:8080/api/records/invoice/1001/force-sync"):
        assert text in body


def test_links_escape_odd_ids_and_missing_parts_are_said_plainly():
    assert force_sync_link(ADMIN, "xero_payment", "a/b c") == "https://cz.example.com:8080/api/records/xero_payment/a%2Fb%20c/force-sync"
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
        assert f"/api/audit/{entry}" in body
    assert "/api/records/procurement/77/force-sync" in body
