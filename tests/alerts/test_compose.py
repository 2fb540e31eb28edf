"""The alert emails' words and links."""
from datetime import date, datetime, timezone

from services.alerts.compose import digest_email, immediate_email
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
