"""Conditions against real parts: ingest cycles against the ConnectWise simulator, Postgres, the
SMTP capture server. One email when a condition begins and one when it ends, however many
cycles or checks pass in between."""
import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg.rows import dict_row

from services.alerts.app import Notifier
from services.common import sandbox_identity as identity
from services.common.database import Database
from services.common.kafka import make_producer
from services.common.outbox import read_messages
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.ingest.cycle import Emitter, Pipeline, run_cycle
from services.ingest.store import Store
from services.integrations.connectwise.client import CwApiError, CwClient
from services.integrations.xero.auth import PostgresTokenStore

pytestmark = pytest.mark.integration


def notifier_for(tmp_path, db, smtp_url, **overrides) -> Notifier:
    settings = Settings(data_dir=tmp_path, postgres_url=db, smtp_url=smtp_url, admin_public_url="http://admin.test:8080",
                        secret_key=overrides.pop("secret_key", Fernet.generate_key().decode()), **overrides)
    return Notifier(settings)


def subjects(mail_dir) -> list[str]:
    return [m["subject"] for m in reversed(read_messages(mail_dir))]  # oldest first


def failing_cycle(pipeline, record_type: str) -> None:
    with pytest.raises(CwApiError):  # the client gave up after its retries: the cycle fails
        run_cycle(pipeline, record_type)


@pytest.fixture
def pipeline(cw_sim, kafka_bootstrap, fresh_database, codec):
    p = Pipeline(cw_sim.client(), Store(Database(fresh_database)), Emitter(make_producer(kafka_bootstrap), codec))
    yield p
    p.store.close()
    p.client.close()


def test_a_connectwise_outage_of_three_cycles_sends_one_alert_and_one_recovery(cw_sim, pipeline, fresh_database,
                                                                              mailbox, tmp_path):
    smtp_url, mail_dir = mailbox
    notifier = notifier_for(tmp_path, fresh_database, smtp_url, alert_cw_failed_cycles=3)
    run_cycle(pipeline, "invoice")
    run_cycle(pipeline, "procurement")
    notifier.send_due()

    cw_sim.faults.update(error_rate=1.0)  # ConnectWise answers every call with a 5xx
    for cycle in range(1, 6):  # invoices and purchase orders fail five cycles; alerts checks after each
        failing_cycle(pipeline, "invoice")
        failing_cycle(pipeline, "procurement")
        notifier.send_due()
        assert len(subjects(mail_dir)) == (0 if cycle < 3 else 1), f"after failed cycle {cycle}"
    [alert] = read_messages(mail_dir)
    assert alert["subject"] == "[Connect Zero] ConnectWise is failing"
    assert "3 cycles in a row failed (invoice, procurement)" in alert["text"] and "HTTP 5" in alert["text"]

    cw_sim.faults.clear()
    run_cycle(pipeline, "invoice")
    notifier.send_due()
    assert len(subjects(mail_dir)) == 1  # purchase orders not retried yet: not over
    run_cycle(pipeline, "procurement")
    notifier.send_due()
    notifier.send_due()
    assert subjects(mail_dir) == ["[Connect Zero] ConnectWise is failing", "[Connect Zero] ConnectWise is answering again"]
    with psycopg.connect(fresh_database, row_factory=dict_row) as conn:
        cursors = conn.execute("select failed_cycles, last_error from sync_cursors where source like 'cw:%'").fetchall()
        episodes = conn.execute("select * from alert_conditions").fetchall()
    assert all(c["failed_cycles"] == 0 and c["last_error"] is None for c in cursors)
    assert len(episodes) == 1 and episodes[0]["resolved_at"] and episodes[0]["recovery_notified_at"]


def test_rejected_keys_are_one_alert_that_says_so(cw_sim, kafka_bootstrap, fresh_database, codec, mailbox, tmp_path):
    smtp_url, mail_dir = mailbox
    notifier = notifier_for(tmp_path, fresh_database, smtp_url, alert_cw_failed_cycles=2)
    stranger = CwClient(cw_sim.url, identity.CW_COMPANY, identity.CW_PUBLIC_KEY, "not-the-private-key",
                        identity.CW_CLIENT_ID, backoff_initial=0.05, backoff_max=0.5)
    pipeline = Pipeline(stranger, Store(Database(fresh_database)), Emitter(make_producer(kafka_bootstrap), codec))
    try:
        for _ in range(4):
            failing_cycle(pipeline, "invoice")
            notifier.send_due()
    finally:
        pipeline.store.close()
        stranger.close()
    [alert] = read_messages(mail_dir)
    assert "rejects Connect Zero's API keys" in alert["text"] and "HTTP 401" in alert["text"]
    assert "not-the-private-key" not in alert["text"]


def connect_organisation(db: str, box: SecretBox, org_id: str, token: str, connected_days_ago: float) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id, credential_sealed, credential_updated_at, status)"
                     " values (%s, %s, %s, %s, now() - make_interval(days => %s), 'connected')",
                     (org_id, f"{org_id.capitalize()} Pty Ltd", f"tenant-{org_id}", box.seal(token), connected_days_ago))


def token_used(db: str, box: SecretBox, org_id: str, days_ago: float) -> None:
    """The organisation's refresh token was spent (rotated) that long ago, as the writer records it."""
    with psycopg.connect(db, autocommit=True, row_factory=dict_row) as conn:
        credential_id, seed = PostgresTokenStore(db, box).credential_of(conn, org_id)
        conn.execute("insert into xero_tokens (credential_id, refresh_token_sealed, rotated_at)"
                     " values (%s, %s, now() - make_interval(days => %s)) on conflict (credential_id) do update"
                     " set rotated_at = excluded.rotated_at", (credential_id, box.seal(seed + "-next"), days_ago))


def test_a_refresh_token_close_to_lapsing_unused_warns_once_and_quietly_ends_when_used(fresh_database, mailbox,
                                                                                       tmp_path):
    smtp_url, mail_dir = mailbox
    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    connect_organisation(fresh_database, box, "perth", "rt-perth", connected_days_ago=80)
    token_used(fresh_database, box, "perth", days_ago=55)  # last used 55 days ago: lapses in 5
    connect_organisation(fresh_database, box, "hobart", "rt-hobart", connected_days_ago=54)  # never used since
    connect_organisation(fresh_database, box, "darwin", "rt-darwin", connected_days_ago=90)
    token_used(fresh_database, box, "darwin", days_ago=1)  # in daily use
    notifier = notifier_for(tmp_path, fresh_database, smtp_url, secret_key=key, alert_token_warn_days=7)

    notifier.send_due()
    notifier.send_due()
    mails = {m["subject"]: m for m in read_messages(mail_dir)}
    assert set(mails) == {"[Connect Zero] Xero connection of organisation perth lapses soon",
                          "[Connect Zero] Xero connection of organisation hobart lapses soon"}
    perth = mails["[Connect Zero] Xero connection of organisation perth lapses soon"]["text"]
    assert "in 5 days" in perth and "payment cycle" in perth and "rt-perth" not in perth

    token_used(fresh_database, box, "perth", days_ago=0)  # a payment cycle spent it: renewed
    notifier.send_due()
    assert len(read_messages(mail_dir)) == 2  # no email for a warning that no longer holds
    with psycopg.connect(fresh_database, row_factory=dict_row) as conn:
        open_now = conn.execute("select subject from alert_conditions where resolved_at is null").fetchall()
    assert [r["subject"] for r in open_now] == ["hobart"]


def test_a_condition_that_began_and_ended_while_mail_was_down_is_told_once(cw_sim, pipeline, fresh_database,
                                                                           smtp_server, tmp_path):
    notifier = notifier_for(tmp_path, fresh_database, smtp_server.url, alert_cw_failed_cycles=1)
    smtp_server.stop()
    cw_sim.faults.update(error_rate=1.0)
    failing_cycle(pipeline, "invoice")
    with pytest.raises(OSError):
        notifier.send_due()
    cw_sim.faults.clear()
    run_cycle(pipeline, "invoice")
    with pytest.raises(OSError):
        notifier.send_due()
    smtp_server.start()
    notifier.send_due()
    notifier.send_due()
    assert subjects(smtp_server.data_dir) == ["[Connect Zero] ConnectWise is failing (over now)"]

