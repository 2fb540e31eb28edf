"""Recipients and the digest hour set at run time (the console, PUT /api/settings/alerts) are the ones the
alerts service uses at its next check; until then the environment's apply."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from services.alerts.notifier import Notifier
from services.alerts.rules import NewException
from services.alerts import store
from services.common import alert_settings
from services.common.db import connect
from services.common.outbox import read_messages
from services.common.settings import Settings


def test_the_next_check_mails_the_recipients_set_at_run_time(tmp_path, fresh_database, mailbox):
    smtp_url, mail_dir = mailbox
    settings = Settings(data_dir=tmp_path, postgres_url=fresh_database, smtp_url=smtp_url, alert_digest_hour_utc=7,
                        alert_email_to="finance@example.com", admin_public_url="http://admin.test")
    with connect(fresh_database, autocommit=True) as conn:
        assert alert_settings.effective(conn, settings).recipients == ["finance@example.com"]
        alert_settings.store(conn, 18, ["books@harbour.example", "ops@harbour.example"], "finance lead")
        chosen = alert_settings.effective(conn, settings)
        assert (chosen.digest_hour_utc, chosen.source, chosen.set_by) == (18, "set", "finance lead")
        store.record_exception(conn, NewException(
            event_id=f"e-{time.time_ns()}", kind="missing_contact", record_type="invoice", record_id="4242",
            organisation_id="adelaide", customer="Acme", message="no Xero contact for Acme", details={},
            audit_entry_id=None, raised_at=datetime.now(timezone.utc)), "sync.exceptions.v1")
    notifier = Notifier(settings)
    assert notifier.send_due()["immediate"] == 1
    assert notifier.digest_hour == 18
    sent = [m for m in read_messages(mail_dir) if "4242" in m["subject"]]
    assert len(sent) == 1 and sent[0]["to"] == "books@harbour.example, ops@harbour.example"


def test_recipients_and_hours_are_checked_by_name():
    assert alert_settings.parse_recipients("a@b.co,\n c@d.org ") == ["a@b.co", "c@d.org"]
    for bad, field in (("", "recipients"), ("finance", "recipients"), ("a@b.co, x y@z.io", "recipients")):
        try:
            alert_settings.parse_recipients(bad)
        except ValueError as exc:
            assert str(exc).startswith(f"{field}:")
        else:
            raise AssertionError(f"{bad!r} was taken")
    try:
        alert_settings.check_hour(24)
    except ValueError as exc:
        assert str(exc).startswith("digest_hour_utc:")
    else:
        raise AssertionError("hour 24 was taken")
