"""Audit retention set at run time against real chdb: applied at once, old entries deleted without a
restart, kept across restarts, bad values refused with the field named and nothing changed."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from services.audit.app import create_app
from services.audit.entries import entry_from_message
from services.audit.retention import RetentionError, RetentionSetting
from services.common.settings import Settings

from .factories import exchange

TOKEN = "retention-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def entry(entry_id: str, days_old: float) -> dict:
    at = datetime.now(timezone.utc) - timedelta(days=days_old)
    return entry_from_message("api.exchanges.v1", "api_exchange", exchange(exchange_id=entry_id, started_at=at), b"", None)


def test_a_retention_set_at_run_time_applies_at_once_and_outlives_a_restart(store):
    setting = RetentionSetting(store, environment_days=90)
    assert setting.apply_at_start() == 90
    assert setting.current() == {"retention_days": 90, "source": "environment", "set_by": None, "set_at": None,
                                 "environment_days": 90}
    store.insert([entry("kept", 20), entry("older-than-30", 45), entry("older-than-90", 100)])

    changed = setting.change(30, "finance")
    assert changed["retention_days"] == 30 and changed["source"] == "set" and changed["set_by"] == "finance"
    assert changed["set_at"].endswith("Z")
    deadline = time.monotonic() + 30
    while store.get("older-than-30") is not None:  # deleted in the background, no restart, no merge asked for
        assert time.monotonic() < deadline, "an entry past the new retention is still there"
        time.sleep(0.2)
    assert store.get("kept") is not None

    restarted = RetentionSetting(store, environment_days=120)  # a restart with another CZ_AUDIT_RETENTION_DAYS
    assert restarted.apply_at_start() == 30 and store.retention_days() == 30
    assert restarted.current()["environment_days"] == 120 and restarted.current()["set_by"] == "finance"


@pytest.mark.parametrize("bad,reason", [(29, "between 30 and 365"), (366, "between 30 and 365"),
                                        ("60", "not a whole number"), (True, "not a whole number")])
def test_a_retention_out_of_range_is_refused_naming_the_field_and_changes_nothing(store, bad, reason):
    setting = RetentionSetting(store, environment_days=90)
    setting.apply_at_start()
    with pytest.raises(RetentionError) as caught:
        setting.change(bad, "finance")
    assert caught.value.name == "retention_days" and reason in caught.value.reason
    assert setting.current()["retention_days"] == 90 and setting.current()["source"] == "environment"


def test_the_audit_service_reads_and_sets_the_retention_over_http(store, tmp_path):
    settings = Settings(data_dir=tmp_path, admin_token=TOKEN, audit_retention_days=90)
    with TestClient(create_app(settings, store)) as client:
        assert client.get("/settings/retention", headers=AUTH).json()["retention_days"] == 90
        refused = client.put("/settings/retention", json={"retention_days": 10}, headers=AUTH)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "retention_days"]
        assert client.put("/settings/retention", json={"retention_days": 45}).status_code == 401
        done = client.put("/settings/retention", json={"retention_days": 180, "set_by": "ops"}, headers=AUTH)
        assert done.status_code == 200 and done.json()["retention_days"] == 180 and done.json()["set_by"] == "ops"
        assert client.get("/settings/retention", headers=AUTH).json()["source"] == "set"
    assert store.retention_days() == 180
