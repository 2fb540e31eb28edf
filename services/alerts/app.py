"""Wiring of the alerts service: a consumer that records exceptions in Postgres,
a notifier that emails them and the conditions that hold (notifier.py), and a
small HTTP API with health, metrics and a hook that sends the digest now.

Recording and sending are apart on purpose: the consumer commits offsets once
an exception is in Postgres, and the notifier sends whatever is open and not
yet emailed, so an SMTP outage delays an alert but never loses it.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import psycopg
from confluent_kafka import Message
from fastapi import APIRouter, Depends, FastAPI, HTTPException

from ..common.audit_ids import event_entry_id
from ..common import secrets
from ..common.codec import Codec
from ..common.database import Database
from ..common.health import HealthChecks, kafka_check, postgres_check
from ..common.http_app import add_health_routes, bearer_auth
from ..common.consumer_policy import run_consumer
from ..common.kafka import Poison, make_consumer, message_context
from ..common.metrics import MESSAGES, POISON
from ..common.settings import Settings
from ..common.topics import SYNC_EXCEPTIONS, XERO_WRITE_RESULTS
from . import smtp, store
from .notifier import Notifier
from .rules import NewException, Settled, interpret

log = logging.getLogger(__name__)
SERVICE = "alerts"


class ExceptionRecorder:
    """Consumes exceptions and write results into the exceptions table."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        on_new=lambda: None,
        group: str | None = None,
        db: Database | None = None,
    ):
        self.settings, self.codec, self.on_new = settings, codec, on_new
        self.db = db or Database(settings.postgres_url)
        self.group = group or settings.alerts_group
        self.running = False

    def handle(self, msgs: list[Message]) -> Poison:
        poison: Poison = []
        new = 0
        now = datetime.now(timezone.utc)
        with self.db.connection() as conn:  # raises if Postgres is down: the policy retries the batch
            for msg in msgs:
                topic, value = msg.topic() or "", msg.value() or b""
                MESSAGES.labels(service=SERVICE, topic=topic).inc()
                try:
                    schema, record = self.codec.decode(value)
                    meaning = interpret(schema, record, event_entry_id(topic, value), now)
                    with conn.transaction():  # one savepoint per message: a bad one spoils only itself
                        if isinstance(meaning, NewException):
                            if store.record_exception(conn, meaning, topic) is not None:
                                new += 1
                                log.info(
                                    "exception %s on %s %s",
                                    meaning.kind,
                                    meaning.record_type,
                                    meaning.record_id,
                                    extra=message_context(msg),
                                )
                        elif isinstance(meaning, Settled):
                            store.resolve_record(conn, meaning.record_type, meaning.record_id, "written to Xero")
                except (ValueError, KeyError, TypeError, psycopg.DataError, psycopg.IntegrityError) as exc:
                    # undecodable, malformed, or text Postgres refuses (a NUL byte): poison, not a retry loop
                    POISON.labels(service=SERVICE, topic=msg.topic()).inc()
                    log.warning("unusable message: %s", exc, extra=message_context(msg))
                    poison.append((msg, exc))
        if new:
            self.on_new()
        return poison

    def run(self, stop: threading.Event) -> None:
        def subscribed():
            return make_consumer(
                self.settings.kafka_bootstrap,
                self.group,
                [SYNC_EXCEPTIONS.name, XERO_WRITE_RESULTS.name],
                self.settings.session_timeout_ms,
            )

        run_consumer(
            SERVICE,
            self.settings.kafka_bootstrap,
            subscribed,
            self.handle,
            stop,
            max_batch=200,
            on_running=lambda running: setattr(self, "running", running),
        )


def create_app(settings: Settings, recorder: ExceptionRecorder | None, notifier: Notifier) -> FastAPI:
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threads = []
        for name, target in (
            ("alerts-recorder", recorder.run if recorder else None),
            ("alerts-notifier", notifier.run),
        ):
            if target is not None:
                threads.append(threading.Thread(target=target, args=(stop,), name=name, daemon=True))
                threads[-1].start()
        log.info("alerts service started")
        yield
        stop.set()
        notifier.wake.set()
        deadline = time.monotonic() + 15
        for thread in threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        log.info("alerts service stopped")

    app = FastAPI(title="Connect Zero alerts service", version="1", lifespan=lifespan)
    checks = {"postgres": postgres_check(settings.postgres_url)}
    if recorder is not None:
        checks["kafka"] = kafka_check(settings.kafka_bootstrap)
        checks["consumer"] = lambda: None if recorder.running else "alerts consumer is not running"
    add_health_routes(app, HealthChecks(checks))
    api = APIRouter(dependencies=[Depends(bearer_auth(secrets.admin_token(settings)))], tags=["alerts"])

    def sending(force_digest: bool) -> dict:
        try:
            return notifier.send_due(force_digest=force_digest)
        except smtp.SEND_ERRORS as exc:  # what could not go out stays pending: the next check sends it
            raise HTTPException(
                503,
                detail=f"the SMTP server {notifier.target.host}:{notifier.target.port} did not "
                f"take the email ({type(exc).__name__}); it is sent when the server is back",
            ) from None

    @api.post("/digest/send", summary="Send the digest now (all open digest-mode exceptions not yet emailed)")
    def send_digest() -> dict:
        return sending(force_digest=True)

    @api.post("/check", summary="Send what is due now, as the timer would")
    def check() -> dict:
        return sending(force_digest=False)

    app.include_router(api)
    return app
