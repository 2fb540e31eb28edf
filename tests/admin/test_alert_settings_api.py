"""GET/PUT /api/settings/alerts: the recipients and digest hour set at run time, with their history;
a bad value is refused by name and changes nothing."""
from __future__ import annotations

from .config_fixtures import AUTH, FINANCE, make_client, make_settings


def test_alert_settings_are_the_environments_until_set_then_recorded(fresh_database):
    client = make_client(make_settings(fresh_database))
    first = client.get("/api/settings/alerts", headers=AUTH).json()
    assert first["source"] == "environment" and first["recipients"] == ["finance@example.com"]

    for body, field in (({"digest_hour_utc": 24, "recipients": "a@b.co"}, "digest_hour_utc"),
                        ({"digest_hour_utc": 6, "recipients": "finance, ops@b.co"}, "recipients")):
        refused = client.put("/api/settings/alerts", json=body, headers=AUTH)
        assert refused.status_code == 422 and field in refused.text
    assert client.get("/api/settings/alerts", headers=AUTH).json()["source"] == "environment"

    saved = client.put("/api/settings/alerts", json={"digest_hour_utc": 6, "recipients": "books@h.example, ops@h.example"},
                       headers=AUTH)
    assert saved.status_code == 200, saved.text
    assert saved.json()["recipients"] == ["books@h.example", "ops@h.example"] and saved.json()["digest_hour_utc"] == 6
    assert saved.json()["set_by"] == FINANCE
    history = client.get("/api/config/changes", params={"table": "alert_settings"}, headers=AUTH).json()
    assert history[0]["before"]["source"] == "environment" and history[0]["after"]["digest_hour_utc"] == 6
    # The record-type settings route beside it still answers for its types.
    assert client.get("/api/settings/invoice", headers=AUTH).json()["record_type"] == "invoice"
