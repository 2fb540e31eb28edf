"""Each organisation's sync settings and what Xero says of it, stored in a real PostgreSQL and
loaded into the mapper's snapshot; the records a change sends through the pipeline again."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.common.db import connect
from services.common.lifecycle import Event
from services.common.record_status import Content, StatusChange, record_changes
from services.mapping import catalog as cat
from services.mapping import repository as repo
from services.mapping.sync_settings import SettingsError, decide_again, get_settings, put_settings

from .test_catalog import ORG, xero  # noqa: F401 (the fixture)

T = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def conn(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id) values ('adelaide', %s, %s)",
                     (ORG.name, ORG.tenant_id))
        conn.execute("insert into xero_accounts (organisation_id, code, name, class, status) values"
                     " ('adelaide', '860', 'Rounding', 'EXPENSE', 'ACTIVE'), ('adelaide', '861', 'Old', 'EXPENSE', 'ARCHIVED')")
        yield conn


def test_settings_default_to_live_and_are_stored_with_their_history(conn):
    assert get_settings(conn, "adelaide")["mode"] == "live"
    version = repo.config_version(conn)
    before, after = put_settings(conn, "adelaide", {"go_live_date": date(2026, 11, 1), "mode": "shadow",
                                                    "rounding_account_code": "860", "customer_details": True}, "ops")
    assert before["mode"] == "live" and after["shadow_since"] is not None
    assert repo.config_version(conn) > version  # the mapper reloads at its next record
    change = repo.list_changes(conn, "organisation_sync_settings", 1, None)[0]
    assert change["actor"] == "ops" and change["after"]["go_live_date"] == "2026-11-01"
    settings = repo.load_snapshot(conn).orgs["adelaide"].settings
    assert settings.shadow and settings.go_live_date == date(2026, 11, 1) and settings.rounding_account == "860"
    assert settings.customer_details and settings.lock_date_treatment == "exception"


@pytest.mark.parametrize("values, field", [({"mode": "dry"}, "mode"), ({"lock_date_treatment": "later"},
                         "lock_date_treatment"), ({"rounding_account_code": "861"}, "rounding_account_code"),
                         ({"rounding_account_code": "999"}, "rounding_account_code"), ({"colour": "red"}, "colour")])
def test_a_bad_setting_names_its_field_and_changes_nothing(conn, values, field):
    with pytest.raises(SettingsError) as raised:
        put_settings(conn, "adelaide", values, "ops")
    assert raised.value.field == field and str(raised.value).startswith(field)
    assert get_settings(conn, "adelaide")["mode"] == "live"


def test_a_new_shadow_run_starts_with_an_empty_report(conn):
    put_settings(conn, "adelaide", {"mode": "shadow"}, "ops")
    conn.execute("insert into shadow_outcomes (organisation_id, record_type, cw_id, outcome) values"
                 " ('adelaide', 'invoice', '1', 'create')")
    put_settings(conn, "adelaide", {"rounding_account_code": "860"}, "ops")  # still the same run
    assert conn.execute("select count(*) as n from shadow_outcomes").fetchone()["n"] == 1
    put_settings(conn, "adelaide", {"mode": "live"}, "ops")
    put_settings(conn, "adelaide", {"mode": "shadow"}, "ops")
    assert conn.execute("select count(*) as n from shadow_outcomes").fetchone()["n"] == 0


def record(conn, cw_id: str, event: Event, updated: datetime, record_type: str = "invoice") -> None:
    record_changes(conn, [
        StatusChange(record_type, cw_id, Event.OBSERVED, observed_at=updated, content=Content("h" + cw_id, updated, None)),
        StatusChange(record_type, cw_id, event, observed_at=updated, organisation_id="adelaide")])


def test_going_live_sends_the_shadow_runs_records_again_and_an_earlier_go_live_those_before_it(conn):
    record(conn, "1", Event.SHADOWED, T - timedelta(days=3))
    record(conn, "2", Event.SHADOWED, T - timedelta(days=1), "credit_note")
    record(conn, "3", Event.BEFORE_GO_LIVE, T - timedelta(days=40))
    record(conn, "4", Event.WRITTEN, T - timedelta(days=50))
    before, after = put_settings(conn, "adelaide", {"mode": "shadow", "go_live_date": date(2026, 11, 1)}, "ops")
    assert decide_again(conn, "adelaide", before, after) == []
    before, after = put_settings(conn, "adelaide", {"mode": "live"}, "ops")
    windows = {w.record_type: w for w in decide_again(conn, "adelaide", before, after)}
    assert set(windows) == {"invoice", "credit_note"}
    assert windows["invoice"].start == T - timedelta(days=3) and windows["invoice"].records == 1
    assert windows["invoice"].end > T
    before, after = put_settings(conn, "adelaide", {"go_live_date": date(2026, 9, 1)}, "ops")
    windows = decide_again(conn, "adelaide", before, after)
    assert [(w.record_type, w.start, w.records) for w in windows] == [("invoice", T - timedelta(days=40), 1)]
    before, after = put_settings(conn, "adelaide", {"go_live_date": date(2026, 12, 1)}, "ops")
    assert decide_again(conn, "adelaide", before, after) == []  # later: the mapper holds back what comes


def test_a_window_reaches_past_a_record_whose_connectwise_clock_runs_ahead_of_ours(conn):
    ahead = datetime.now(timezone.utc) + timedelta(hours=1)  # lastUpdated is ConnectWise's time, not ours
    record(conn, "9", Event.SHADOWED, ahead)
    before, after = put_settings(conn, "adelaide", {"mode": "shadow"}, "ops")
    before, after = put_settings(conn, "adelaide", {"mode": "live"}, "ops")
    [window] = decide_again(conn, "adelaide", before, after)
    assert window.start <= ahead < window.end  # a replay window, never from after to


def test_a_catalog_refresh_reads_the_currencies_and_lock_dates(xero, conn):  # noqa: F811
    sim, client = xero
    sim.currencies = {"AUD": "Australian Dollar", "NZD": "New Zealand Dollar"}
    sim.period_lock_date, sim.end_of_year_lock_date = date(2026, 10, 31), date(2026, 6, 30)
    cat.refresh_catalog(client, conn, "adelaide", ORG.tenant_id, actor="test")
    facts = repo.load_snapshot(conn).orgs["adelaide"].facts
    assert facts.base_currency == "AUD" and facts.currencies == frozenset({"AUD", "NZD"})
    assert facts.lock_date == date(2026, 10, 31) and facts.end_of_year_lock_date == date(2026, 6, 30)
    sim.period_lock_date = None
    cat.refresh_catalog(client, conn, "adelaide", ORG.tenant_id, actor="test")
    assert repo.load_snapshot(conn).orgs["adelaide"].facts.lock_date == date(2026, 6, 30)
