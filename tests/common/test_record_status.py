"""sync_records written through the lifecycle rule, against a real Postgres."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.common.db import connect
from services.common.lifecycle import Event
from services.common.record_status import _COLUMNS, Content, StatusChange, apply, record_changes, xero_state

T = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def row(conn, cw_id="1"):
    return conn.execute("select * from sync_records where record_type = 'invoice' and cw_id = %s", (cw_id,)).fetchone()


def observed(at, hash_="h1", **kw):
    return StatusChange("invoice", "1", Event.OBSERVED, observed_at=at, record_number="INV-1", customer="ACME",
                        content=Content(hash_, at, Decimal("110.00"), {"company_id": 5}), **kw)


def test_an_outcome_stored_before_the_emission_is_kept_with_the_content(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [StatusChange("invoice", "1", Event.WRITTEN, observed_at=T, organisation_id="adelaide",
                                           xero_id="X-1", xero_status="DRAFT", record_number="INV-1")])
        record_changes(conn, [observed(T)])
        stored = row(conn)
        assert (stored["status"], stored["xero_id"], stored["organisation_id"]) == ("synced", "X-1", "adelaide")
        assert (stored["content_hash"], stored["total"], stored["customer"]) == ("h1", Decimal("110.0000"), "ACME")
        assert stored["snapshot"] == {"company_id": 5} and stored["status_observed_at"] == T


def test_a_stale_write_keeps_its_xero_id_but_not_its_status(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [observed(T + timedelta(seconds=5), "h2")])
        record_changes(conn, [StatusChange("invoice", "1", Event.WRITTEN, observed_at=T, organisation_id="adelaide",
                                           xero_id="X-1", xero_status="DRAFT")])
        stored = row(conn)
        assert (stored["status"], stored["xero_id"], stored["content_hash"]) == ("pending", "X-1", "h2")


def test_errors_follow_the_status(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [observed(T), StatusChange("invoice", "1", Event.RAISED, observed_at=T,
                                                        error="no contact")])
        assert (row(conn)["status"], row(conn)["last_error"]) == ("exception", "no contact")
        record_changes(conn, [observed(T + timedelta(seconds=1), "h2")])
        assert (row(conn)["status"], row(conn)["last_error"]) == ("pending", None)


def test_unreadable_content_is_failed_and_read_again(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [observed(T)])
        record_changes(conn, [StatusChange("invoice", "1", Event.UNREADABLE, error="total: not a number")])
        stored = row(conn)
        assert (stored["status"], stored["content_hash"], stored["last_error"]) == ("failed", None, "total: not a number")


def test_services_recording_the_same_new_record_at_once_lose_nothing(fresh_database):
    """Ingest and the mapper (and the writer) race on records ingest just emitted: whatever
    the interleaving, each record ends at the furthest stage of its observation."""
    ids = [str(i) for i in range(200)]
    barrier = threading.Barrier(3)

    def report(event, batch):
        with connect(fresh_database, autocommit=True) as conn:
            barrier.wait()
            for start in range(0, len(ids), batch):
                chunk = ids[start:start + batch]
                if event is Event.OBSERVED:
                    changes = [StatusChange("invoice", i, event, observed_at=T,
                                            content=Content("h", T, Decimal(1))) for i in chunk]
                else:
                    changes = [StatusChange("invoice", i, event, observed_at=T, xero_id=f"X-{i}" if
                                            event is Event.WRITTEN else None) for i in reversed(chunk)]
                record_changes(conn, changes)

    threads = [threading.Thread(target=report, args=args) for args in
               ((Event.OBSERVED, 50), (Event.MAPPED, 7), (Event.WRITTEN, 13))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with connect(fresh_database, autocommit=True) as conn:
        rows = conn.execute("select cw_id, status, xero_id, content_hash from sync_records").fetchall()
    assert len(rows) == 200
    assert {(r["status"], r["content_hash"]) for r in rows} == {("synced", "h")}
    assert all(r["xero_id"] == f"X-{r['cw_id']}" for r in rows)


# --- Xero's state of a record (a webhook's report, or the writer's outcome) -------------------

LEARNED = T + timedelta(minutes=5)
BEFORE = T - timedelta(minutes=5)


def written_row(status="synced", xero_status="AUTHORISED", error=None):
    return {**{name: None for name in _COLUMNS}, "record_type": "invoice", "cw_id": "1", "status": status,
            "status_observed_at": T, "xero_id": "X-1", "xero_status": xero_status, "xero_status_changed_at": BEFORE,
            "organisation_id": "adelaide", "last_error": error}


def reported(xero_status, disagreement=None):
    return xero_state("invoice", "1", xero_status, organisation_id="adelaide", xero_id="X-1",
                      disagreement=disagreement, at=LEARNED)


# (row before, change) -> (status, xero_status, xero_status_changed_at, last_error) after
XERO_CASES = {
    "paid in Xero: a fact, the status stays": (
        written_row(), reported("PAID"), ("synced", "PAID", LEARNED, None)),
    "the same state again (a replayed webhook): nothing changes, not even when": (
        written_row(), reported("AUTHORISED"), ("synced", "AUTHORISED", BEFORE, None)),
    "approved in Xero while the record waits for a person: still an exception": (
        written_row("exception", "DRAFT", "no tracking option"), reported("AUTHORISED"),
        ("exception", "AUTHORISED", LEARNED, "no tracking option")),
    "approved in Xero while newer content is on its way: still pending": (
        written_row("pending", "DRAFT"), reported("AUTHORISED"), ("pending", "AUTHORISED", LEARNED, None)),
    "voided in Xero after we wrote it: the books disagree": (
        written_row(), reported("VOIDED", "voided in Xero"), ("exception", "VOIDED", LEARNED, "voided in Xero")),
    "deleted in Xero while a write was pending a person": (
        written_row("failed", "DRAFT", "Xero unavailable"), reported("DELETED", "deleted in Xero"),
        ("exception", "DELETED", LEARNED, "deleted in Xero")),
    "the writer's outcome stamps the state it wrote": (
        written_row("mapped", None), StatusChange("invoice", "1", Event.WRITTEN, observed_at=T, xero_id="X-1",
                                                  xero_status="DRAFT", at=LEARNED),
        ("synced", "DRAFT", LEARNED, None)),
}


@pytest.mark.parametrize("case", list(XERO_CASES))
def test_xero_state_changes(case):
    before, change, expected = XERO_CASES[case]
    after = apply(before, change)
    assert (after["status"], after["xero_status"], after["xero_status_changed_at"], after["last_error"]) == expected
    assert after["xero_id"] == "X-1" and after["status_observed_at"] == T


def test_xero_state_and_when_it_changed_are_stored(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [observed(T), StatusChange("invoice", "1", Event.WRITTEN, observed_at=T,
                                                        organisation_id="adelaide", xero_id="X-1",
                                                        xero_status="AUTHORISED", at=BEFORE)])
        record_changes(conn, [reported("PAID")])
        stored = row(conn)
        assert (stored["status"], stored["xero_status"], stored["xero_status_changed_at"]) == ("synced", "PAID", LEARNED)
        record_changes(conn, [reported("VOIDED", "invoice INV-1 was voided in Xero")])
        stored = row(conn)
        assert (stored["status"], stored["xero_status"], stored["last_error"]) == (
            "exception", "VOIDED", "invoice INV-1 was voided in Xero")


@pytest.mark.parametrize("event, status", [(Event.BEFORE_GO_LIVE, "before_go_live"), (Event.SHADOWED, "shadow")])
def test_records_before_go_live_or_in_a_shadow_run_are_stored_with_their_reason(fresh_database, event, status):
    with connect(fresh_database, autocommit=True) as conn:
        record_changes(conn, [observed(T), StatusChange("invoice", "1", Event.MAPPED, observed_at=T,
                                                        organisation_id="auckland")])
        record_changes(conn, [StatusChange("invoice", "1", event, observed_at=T, error="why", organisation_id="auckland")])
        stored = row(conn)
        assert (stored["status"], stored["last_error"], stored["organisation_id"]) == (status, "why", "auckland")
        record_changes(conn, [observed(T + timedelta(seconds=1), "h2")])
        assert row(conn)["status"] == "pending"  # new content is decided again
