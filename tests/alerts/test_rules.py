"""When to email which exception, without a clock or a database."""
from datetime import date, datetime, timedelta, timezone

from services.alerts.rules import DIGEST, NewException, Pending, Settled, digest_due, interpret, plan
from tests.audit.factories import sync_exception, write_result

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def test_a_sync_exception_links_to_the_exchange_it_names_or_else_to_itself():
    own = interpret("sync_exception", sync_exception(audit_entry_id=None), "entry-of-event", NOW)
    assert isinstance(own, NewException) and own.audit_entry_id == "entry-of-event"
    named = interpret("sync_exception", sync_exception(audit_entry_id="exchange-1"), "entry-of-event", NOW)
    assert named.audit_entry_id == "exchange-1"
    assert (named.kind, named.record_type, named.record_id, named.organisation_id) == ("missing_contact", "invoice", "1001", "org-a")


def test_a_written_record_settles_and_a_failed_or_rejected_write_is_left_to_the_exception_that_names_it():
    # The writer raises, beside each FAILED result, an exception naming the cause (xero_credential, ...):
    # the result itself raises nothing, or every failure would be reported twice.
    assert interpret("xero_write_result", write_result(outcome="FAILED", errors=["503 five times"]), "e", NOW) is None
    assert interpret("xero_write_result", write_result(outcome="UPDATED"), "e", NOW) == Settled("procurement", "77")
    assert interpret("xero_write_result", write_result(outcome="REJECTED"), "e", NOW) is None
    assert interpret("sync_command", {}, "e", NOW) is None


def test_digest_is_due_from_the_hour_once_a_day():
    assert not digest_due(NOW.replace(hour=6, minute=59), 7, None)
    assert digest_due(NOW.replace(hour=7), 7, None)
    assert digest_due(NOW.replace(hour=7), 7, date(2026, 11, 24))
    assert not digest_due(NOW.replace(hour=23), 7, date(2026, 11, 25))
    assert digest_due(NOW.replace(hour=23), 7, date(2026, 11, 20))  # down at 07:00: sent when back, once


def test_plan_splits_by_alert_mode_groups_immediate_ones_by_kind_and_holds_digest_items_until_the_hour():
    pending = [Pending(1, "missing_contact", "invoice", NOW), Pending(2, "unknown_account", "procurement", NOW - timedelta(hours=1)),
               Pending(3, "missing_contact", "procurement", NOW), Pending(4, "tax_mismatch", "something_new", NOW),
               Pending(5, "missing_contact", "invoice", NOW - timedelta(minutes=1))]
    modes = {"invoice": "immediate", "procurement": DIGEST}
    early = plan(pending, modes, NOW.replace(hour=6), 7, None)
    assert early.immediate == {"missing_contact": [5, 1], "tax_mismatch": [4]}  # one email per kind, oldest first
    assert early.digest == [] and early.digest_day is None
    due = plan(pending, modes, NOW, 7, date(2026, 11, 24))
    assert due.digest == [2, 3] and due.digest_day == date(2026, 11, 25)
    forced = plan(pending, modes, NOW.replace(hour=6), 7, None, force_digest=True)
    assert forced.digest == [2, 3] and forced.digest_day is None  # the scheduled digest still runs later
    quiet = plan([], modes, NOW, 7, None)
    assert quiet.digest == [] and quiet.digest_day == date(2026, 11, 25) and quiet.immediate == {}
