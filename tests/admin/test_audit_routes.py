"""Audit, exceptions and outbox routes of the admin API, against a real audit
service (its own HTTP server over chdb), real PostgreSQL and real mail files."""
import csv
import io
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.database import Database
from services.admin.routes_audit import audit_router
from services.alerts import store as exceptions_store
from services.alerts.rules import NewException
from services.audit.app import create_app as create_audit_app
from services.audit.entries import entry_from_message
from services.audit.store import ChdbStore
from services.common.db import connect
from services.common.settings import Settings
from services.common.outbox import store_message
from tests.audit.factories import exchange
from tests.conftest import free_port

pytestmark = pytest.mark.integration

TOKEN = "admin-routes-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.now(timezone.utc)


class ServerThread:
    def __init__(self, app, port):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "audit service did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def settings(tmp_path, fresh_database):
    return Settings(data_dir=tmp_path, admin_token=TOKEN, postgres_url=fresh_database, audit_port=free_port(),
                    alerts_port=free_port())


@pytest.fixture
def audit_service(settings):
    """The audit service's HTTP API over a chdb store holding 30 exchanges."""
    store = ChdbStore(settings.data_dir / "chdb")
    store.open(90)
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange", exchange(
        exchange_id=f"a{i:02d}", started_at=NOW - timedelta(minutes=i), status=429 if i % 3 == 0 else 200,
        customer="Acme Pty Ltd" if i % 2 else "Globex", response_body=f'{{"Invoice": "NR-{i}"}}'), b"", None)
        for i in range(30)])
    with ServerThread(create_audit_app(settings, store), settings.audit_port):
        yield store
    store.close()


@pytest.fixture
def admin(settings):
    app = FastAPI()
    app.include_router(audit_router(settings, Database(settings.postgres_url)))
    return TestClient(app)


def test_every_route_needs_the_token(admin):
    for path in ("/api/audit", "/api/audit.csv", "/api/audit/a01", "/api/exceptions", "/api/outbox"):
        assert admin.get(path).status_code == 401, path
    assert admin.post("/api/alerts/digest").status_code == 401


def test_audit_pages_are_proxied_with_their_filters(audit_service, admin):
    seen, cursor = [], None
    while True:
        page = admin.get("/api/audit", params={"status": "4xx", "limit": 4, **({"cursor": cursor} if cursor else {})},
                         headers=AUTH)
        assert page.status_code == 200
        seen += [e["entry_id"] for e in page.json()["entries"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [f"a{i:02d}" for i in range(0, 30, 3)]
    entry = admin.get("/api/audit/a03", headers=AUTH).json()
    assert entry["response_body"] == '{"Invoice": "NR-3"}' and entry["status"] == "429"


def test_audit_errors_pass_through_with_the_field_named(audit_service, admin):
    bad = admin.get("/api/audit", params={"to": "soon"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "to"]
    missing = admin.get("/api/audit/zz-nope", headers=AUTH)
    assert missing.status_code == 404 and "zz-nope" in missing.json()["detail"]
    assert admin.get("/api/audit.csv", params={"record_type": "bill"}, headers=AUTH).status_code == 422


def test_csv_export_streams_every_matching_row(audit_service, admin):
    with admin.stream("GET", "/api/audit.csv", params={"customer": "acme", "q": "NR-1"}, headers=AUTH) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        assert resp.headers["content-disposition"].startswith("attachment")
        text = "".join(resp.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    want = [f"a{i:02d}" for i in range(30) if i % 2 and f"NR-{i}".startswith("NR-1")]
    assert [r["entry_id"] for r in rows] == want and len(want) == 6


def test_audit_service_down_is_a_clear_503(admin, settings):
    resp = admin.get("/api/audit", headers=AUTH)
    assert resp.status_code == 503 and f"127.0.0.1:{settings.audit_port}" in resp.json()["detail"]
    assert admin.get("/api/audit.csv", headers=AUTH).status_code == 503


def new_exception(record_id, kind="missing_contact", organisation="org-a", event=None):
    return NewException(event_id=event or f"e-{record_id}-{kind}-{time.time_ns()}", kind=kind, record_type="invoice",
                        record_id=record_id, organisation_id=organisation, customer="Acme", message=f"{kind} on {record_id}",
                        details={}, audit_entry_id=f"entry-{record_id}", raised_at=NOW)


def test_exceptions_list_open_ones_with_links_and_can_be_resolved(admin, settings):
    with connect(settings.postgres_url, autocommit=True) as conn:
        first = exceptions_store.record_exception(conn, new_exception("1001"), "sync.exceptions.v1")
        exceptions_store.record_exception(conn, new_exception("1001"), "sync.exceptions.v1")  # a repeat
        exceptions_store.record_exception(conn, new_exception("1002", "unknown_account", "org-b"), "sync.exceptions.v1")
    listed = admin.get("/api/exceptions", params={"status": "open"}, headers=AUTH).json()
    assert listed["count"] == 2
    item = next(e for e in listed["exceptions"] if e["id"] == first)
    assert (item["kind"], item["record_type"], item["record_id"], item["organisation_id"], item["occurrences"]) == \
        ("missing_contact", "invoice", "1001", "org-a", 2)
    assert item["links"] == {"audit_entry": "http://testserver/api/audit/entry-1001",
                             "force_sync": "http://testserver/api/records/invoice/1001/force-sync"}
    assert item["pages"] == {"exception": f"http://testserver/exceptions/{first}",
                             "record": "http://testserver/records/invoice/1001",
                             "audit_entry": "http://testserver/audit/entry-1001"}
    assert [e["record_id"] for e in admin.get("/api/exceptions", params={"organisation": "org-b"}, headers=AUTH).json()["exceptions"]] == ["1002"]

    resolved = admin.post(f"/api/exceptions/{first}/resolve", headers=AUTH)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert admin.post(f"/api/exceptions/{first}/resolve", headers=AUTH).status_code == 404
    assert [e["id"] for e in admin.get("/api/exceptions", params={"status": "resolved"}, headers=AUTH).json()["exceptions"]] == [first]
    assert admin.get("/api/exceptions", params={"status": "all"}, headers=AUTH).json()["count"] == 2
    bad = admin.get("/api/exceptions", params={"status": "closed"}, headers=AUTH)
    assert bad.status_code == 422 and "status" in str(bad.json()["detail"])


def test_outbox_shows_captured_mail_newest_first(admin, settings):
    assert admin.get("/api/outbox", headers=AUTH).json() == {"messages": [], "count": 0}
    for n in (1, 2):
        store_message(settings.data_dir, f"From: cz@example.com\r\nTo: finance@example.com\r\nSubject: alert {n}\r\n\r\nbody {n}\r\n".encode())
    messages = admin.get("/api/outbox", headers=AUTH).json()["messages"]
    assert [m["subject"] for m in messages] == ["alert 2", "alert 1"] and messages[0]["text"].strip() == "body 2"


def test_digest_hook_reaches_the_alerts_service_and_the_mail_shows_in_the_outbox(admin, settings):
    from aiosmtpd.controller import Controller

    from services.alerts.app import Notifier
    from services.alerts.app import create_app as create_alerts_app
    from services.mailbox.__main__ import CaptureHandler

    assert admin.post("/api/alerts/digest", headers=AUTH).status_code == 503  # not running yet: said plainly
    smtp_port = free_port()
    controller = Controller(CaptureHandler(settings.data_dir), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    alerts_settings = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "alert_check_seconds": 3600})
    with connect(settings.postgres_url, autocommit=True) as conn:
        conn.execute("update record_type_settings set alert_mode = 'digest' where record_type = 'invoice'")
        # Today's scheduled digest counts as sent, so only the hook sends one, whatever the hour.
        conn.execute("insert into alert_digests (day, exceptions) values ((now() at time zone 'utc')::date, 0)")
        exceptions_store.record_exception(conn, new_exception("3001"), "sync.exceptions.v1")
    try:
        with ServerThread(create_alerts_app(alerts_settings, None, Notifier(alerts_settings)), settings.alerts_port):
            sent = admin.post("/api/alerts/digest", headers=AUTH)
            assert sent.status_code == 200 and sent.json() == {"immediate": 0, "digest": 1}
    finally:
        controller.stop()
    messages = admin.get("/api/outbox", headers=AUTH).json()["messages"]
    assert len(messages) == 1 and "Daily digest" in messages[0]["subject"]
    assert "/records/invoice/3001 " in messages[0]["text"]
