"""Publishes configuration changes on config.changes.v1 so the audit log shows them.

`config_changes` is an outbox: a change is committed with its history row, and
`publish_pending` sends every row not yet published, then marks it. The admin
API kicks a background thread after each change (so a slow or absent broker
never slows a request), and the thread also retries every `interval` seconds,
so a change made while Kafka was unreachable is published once it is back.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone

from ..common.codec import Codec
from ..common.topics import CONFIG_CHANGES

log = logging.getLogger(__name__)
BATCH = 5000  # changes sent per transaction


def to_event(change: dict) -> dict:
    def text(value):
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    changed_at = change.get("changed_at") or datetime.now(timezone.utc)
    return {
        "change_id": str(change["change_id"]),
        "table": change["table"],
        "key": change["key"],
        "action": change["action"],
        "actor": change.get("actor"),
        "before": text(change.get("before")),
        "after": text(change.get("after")),
        "changed_at": changed_at,
    }


class ChangePublisher:
    def __init__(self, bootstrap: str, codec: Codec | None = None):
        self.bootstrap = bootstrap
        self.codec = codec or Codec.from_directory()
        self._producer = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._start_lock = threading.Lock()

    def kick(self, postgres_url: str, interval: float = 30.0) -> None:
        """Publishes pending changes soon, from a background thread started on first use
        (requests run in a thread pool: the lock keeps it to one thread)."""
        if not self.bootstrap:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, args=(postgres_url, interval), name="config-changes", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _loop(self, postgres_url: str, interval: float) -> None:
        from ..common.db import connect

        while True:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                with connect(postgres_url, autocommit=True) as conn:
                    while self.publish_pending(conn) == BATCH:  # a big import: keep going until none is left
                        pass
            except Exception as exc:  # the rows stay pending; the next round retries
                log.warning("publishing config changes failed: %s", exc)

    def _producer_or_none(self):
        if not self.bootstrap:
            return None
        if self._producer is None:
            from ..common.kafka import make_producer

            self._producer = make_producer(self.bootstrap, **{"message.timeout.ms": 5000})
        return self._producer

    def publish_pending(self, conn, limit: int | None = None) -> int:
        """Sends unpublished changes in order; returns how many were confirmed."""
        limit = limit or BATCH
        producer = self._producer_or_none()
        if producer is None:
            return 0
        with conn.transaction():
            rows = conn.execute(
                "select seq, change_id, table_name as table, key, action, actor, before, after, changed_at"
                " from config_changes where published_at is null order by seq limit %s for update skip locked",
                (limit,),
            ).fetchall()
            if not rows:
                return 0
            failed: list[str] = []

            def done(err, _msg):
                if err is not None:
                    failed.append(str(err))

            for row in rows:
                producer.produce(
                    CONFIG_CHANGES.name,
                    key=row["table"].encode(),
                    value=self.codec.encode("config_change", to_event(row)),
                    on_delivery=done,
                )
            remaining = producer.flush(10)
            if failed or remaining:
                log.warning(
                    "config changes not published yet (%s); they stay pending", failed[:1] or f"{remaining} unsent"
                )
                return 0
            conn.execute(
                "update config_changes set published_at = now() where seq = any(%s)", ([r["seq"] for r in rows],)
            )
        return len(rows)
