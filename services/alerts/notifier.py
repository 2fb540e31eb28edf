"""The notifier: at each check, decides which conditions hold and emails what is owed: each
condition episode's start and end, the open exceptions not yet emailed (one email per kind in
immediate mode), and the daily digest.

An email is marked sent in the transaction that sends it, after the SMTP server took it: with
the server away, nothing is marked, and the next check sends it (at least once, never lost).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from prometheus_client import Counter, Gauge

from ..common import alert_settings, locks
from ..common.database import Database
from ..common.db import one_row
from ..common.secrets import SecretBox, secret_key
from ..common.settings import Settings
from . import compose, condition_store, facts, smtp, store
from .condition_mail import condition_email
from .conditions import holding
from .rules import plan

log = logging.getLogger(__name__)

EMAILS = Counter("cz_alert_emails_total", "Alert emails sent", ["mode"])
SEND_FAILURES = Counter("cz_alert_send_failures_total", "Alert emails that could not be sent (retried next check)")
OPEN = Gauge("cz_exceptions_open", "Open exceptions")
CONDITIONS_OPEN = Gauge(
    "cz_alert_conditions_open", "Open conditions (a lost credential, an outage, a lapsing token)", ["kind"]
)


def admin_url(settings: Settings) -> str:
    return settings.admin_public_url or f"http://{settings.host}:{settings.admin_port}"


def smtp_url(settings: Settings) -> str:
    return settings.smtp_url or f"smtp://{settings.host}:{settings.smtp_port}"


class Notifier:
    """Emails what is owed, as the rules and conditions say."""

    def __init__(self, settings: Settings, db: Database | None = None):
        self.settings = settings
        self.target = smtp.parse_smtp_url(smtp_url(settings))
        self.recipients = [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]
        if not self.recipients or not all("@" in a for a in self.recipients):
            raise ValueError(
                f"CZ_ALERT_EMAIL_TO: needs comma-separated email addresses, got {settings.alert_email_to!r}"
            )
        self.digest_hour = settings.alert_digest_hour_utc
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self.db = db or Database(settings.postgres_url)
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:  # made on first use: reading the key may generate it in the data directory
        if self._box is None:
            self._box = SecretBox(secret_key(self.settings))
        return self._box

    def send_due(self, force_digest: bool = False, now: datetime | None = None) -> dict:
        """Sends what is due now; returns how many exceptions each kind of email carried (the
        admin API's digest hook answers this; condition emails are counted in the metrics)."""
        now = now or datetime.now(timezone.utc)
        sent = {"immediate": 0, "digest": 0}
        with self._lock, self.db.session_lock(locks.ALERTS_SENDER) as conn:
            if conn is None:  # another alerts process is sending right now; what is due waits for the next check
                return sent
            chosen = alert_settings.effective(conn, self.settings)  # as set in the console, else the environment's
            self.digest_hour, self.recipients = chosen.digest_hour_utc, chosen.recipients
            self._watch(conn, now)
            self._send_conditions(conn, now)
            self._send_exceptions(conn, now, force_digest, sent)
            OPEN.set(one_row(conn, "select count(*) as n from exceptions where status = 'open'")["n"])
        return sent

    def _watch(self, conn, now: datetime) -> None:
        with conn.transaction():
            open_keys = {(r["kind"], r["subject"]) for r in condition_store.open_episodes(conn)}
            found = holding(
                facts.connectwise_cycles(conn),
                facts.organisations(conn, self.box),
                now,
                self.settings.alert_cw_failed_cycles,
                self.settings.alert_token_warn_days,
                open_keys,
            )
            opened, resolved = condition_store.reconcile(conn, found, now)
            condition_store.drop_unsaid(conn)
        if opened or resolved:
            log.info("conditions: %d began, %d ended", opened, resolved)
        CONDITIONS_OPEN.clear()
        for condition in found:
            CONDITIONS_OPEN.labels(kind=condition.kind).inc()

    def _send_conditions(self, conn, now: datetime) -> None:
        for episode in condition_store.unsent(conn):  # the sender lock makes this process the only sender
            waiting = condition_store.waiting_records(conn, episode["kind"], episode["subject"])
            with conn.transaction():
                self._send(
                    condition_email(
                        episode, waiting, admin_url(self.settings), self.settings.alert_email_from, self.recipients
                    ),
                    "condition",
                )
                condition_store.mark_sent(conn, episode, now)
        condition_store.cover_exceptions(conn)

    def _send_exceptions(self, conn, now: datetime, force_digest: bool, sent: dict) -> None:
        todo = plan(
            store.pending(conn), store.alert_modes(conn), now, self.digest_hour, store.last_digest(conn), force_digest
        )
        for kind, ids in todo.immediate.items():
            with conn.transaction():
                rows = store.fetch(conn, ids)
                if rows:
                    self._send(
                        compose.kind_email(
                            kind, rows, admin_url(self.settings), self.settings.alert_email_from, self.recipients
                        ),
                        "immediate",
                    )
                    store.mark_notified(conn, [r["id"] for r in rows])
                    sent["immediate"] += len(rows)
        if todo.digest or todo.digest_day:
            with conn.transaction():
                rows = store.fetch(conn, todo.digest)
                if rows:
                    self._send(
                        compose.digest_email(
                            rows, now.date(), admin_url(self.settings), self.settings.alert_email_from, self.recipients
                        ),
                        "digest",
                    )
                    store.mark_notified(conn, [r["id"] for r in rows])
                if todo.digest_day:
                    store.record_digest(conn, todo.digest_day, len(rows))
                sent["digest"] = len(rows)

    def _send(self, message, mode: str) -> None:
        try:
            smtp.send(self.target, message)
        except Exception:
            SEND_FAILURES.inc()
            raise
        EMAILS.labels(mode=mode).inc()
        log.info("sent %s alert %r", mode, message["Subject"])

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.send_due()
            except Exception as exc:  # SMTP or Postgres away: what is unsent stays pending for the next check
                log.error("alert check failed: %s", exc)
            self.wake.wait(self.settings.alert_check_seconds)
            self.wake.clear()
