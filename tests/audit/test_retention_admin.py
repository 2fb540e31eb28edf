"""Audit retention through the admin API (`GET/PUT /api/settings/audit`) and `connectzero
audit-retention`: the whole admin app, a real audit service over chdb, real Postgres."""
import json
import threading
import time

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from typer.testing import CliRunner

from services.admin.app import create_app as create_admin_app
from services.audit.app import create_app as create_audit_app
from services.audit.store import ChdbStore
from services.cli.main import app as cli
from services.common.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration
TOKEN = "retention-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Served:
    def __init__(self, app, port):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def settings(tmp_path, fresh_database):
    return Settings(data_dir=tmp_path, admin_token=TOKEN, postgres_url=fresh_database, audit_port=free_port(),
                    admin_port=free_port(), audit_retention_days=90)


@pytest.fixture
def audit_store(settings):
    store = ChdbStore(settings.data_dir / "chdb")
    store.open(90)
    yield store
    store.close()


def history(db: str) -> list[dict]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute("select actor, before, after from config_changes where table_name = 'audit_settings'"
                            " order by seq").fetchall()


def test_retention_is_read_and_set_through_the_admin_api_with_its_history(settings, audit_store):
    with Served(create_audit_app(settings, audit_store), settings.audit_port), \
            TestClient(create_admin_app(settings)) as admin:
        shown = admin.get("/api/settings/audit", headers=AUTH).json()
        assert (shown["retention_days"], shown["source"]) == (90, "environment")
        assert admin.get("/api/settings/invoice", headers=AUTH).status_code == 200  # the record types' route still

        for bad in ({"retention_days": 29}, {"retention_days": 366}, {"retention_days": "ninety"}, {"days": 60}):
            refused = admin.put("/api/settings/audit", json=bad, headers=AUTH)
            assert refused.status_code == 422, bad
            assert refused.json()["detail"][0]["loc"] == ["body", "retention_days"]  # named, even when missing
        assert admin.put("/api/settings/audit", json={"retention_days": 60}).status_code == 401
        assert audit_store.retention_days() == 90 and history(settings.postgres_url) == []  # nothing changed

        maria = admin.post("/api/users", json={"name": "maria", "role": "admin"}, headers=AUTH).json()["token"]
        done = admin.put("/api/settings/audit", json={"retention_days": 120}, headers={"Authorization": f"Bearer {maria}"})
        assert done.status_code == 200 and done.json()["retention_days"] == 120 and done.json()["set_by"] == "maria"
        assert audit_store.retention_days() == 120  # applied at once, no restart
        assert history(settings.postgres_url) == [{"actor": "maria", "before": {"retention_days": 90},
                                                   "after": {"retention_days": 120}}]
        assert "/api/settings/audit" in admin.get("/openapi.json").json()["paths"]


def test_the_audit_service_away_changes_nothing(settings):
    with TestClient(create_admin_app(settings)) as admin:
        resp = admin.put("/api/settings/audit", json={"retention_days": 120}, headers=AUTH)
    assert resp.status_code == 503 and "nothing was changed" in resp.json()["detail"]
    assert history(settings.postgres_url) == []


def test_the_cli_shows_and_sets_the_retention(settings, audit_store):
    runner = CliRunner()
    with Served(create_audit_app(settings, audit_store), settings.audit_port), \
            Served(create_admin_app(settings), settings.admin_port):
        url = f"http://127.0.0.1:{settings.admin_port}"
        shown = runner.invoke(cli, ["audit-retention", "--url", url, "--token", TOKEN])
        assert shown.exit_code == 0 and "90 days" in shown.output and "CZ_AUDIT_RETENTION_DAYS" in shown.output
        refused = runner.invoke(cli, ["audit-retention", "400", "--url", url, "--token", TOKEN])
        assert refused.exit_code == 1 and "retention_days" in refused.output
        done = runner.invoke(cli, ["audit-retention", "45", "--url", url, "--token", TOKEN])
        assert done.exit_code == 0 and "45 days" in done.output
    assert audit_store.retention_days() == 45
    assert json.loads(json.dumps(history(settings.postgres_url)))[-1]["after"] == {"retention_days": 45}
