"""ConnectWise callbacks: a client registers `system/callbacks` {url, objectId,
type, level}; on every change of a matching record the simulator POSTs
{ID, Action, Type, Entity} to the url, Entity being the record as a JSON string.

Delivery is best effort and in the background, like ConnectWise's: a state
change only queues the message (under the state's lock, so it must not block);
one thread posts them in order, a failure is counted and dropped, never retried.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from typing import Any

import httpx

from ...common.sandbox_identity import CW_COMPANY
from .render import to_json
from .state import CwState
from .store import Record

log = logging.getLogger(__name__)
CALLBACK_TYPES = ("Invoice", "Product", "PurchaseOrder", "Company")


def matches(callback: Record, kind: str, record: Record) -> bool:
    """Does a registered callback want this change? `level` Owner with an objectId
    narrows it to one record; any other level takes every record of the type."""
    if callback.get("inactiveFlag") or str(callback.get("type", "")).lower() != kind.lower():
        return False
    object_id = callback.get("objectId") or 0
    if str(callback.get("level", "")).lower() == "owner" and object_id:
        return record.get("id") == object_id
    return True


def payload(callback: Record, kind: str, action: str, record: Record, from_url: str) -> dict[str, Any]:
    return {
        "MessageId": str(uuid.uuid4()),
        "FromUrl": from_url,
        "CompanyId": CW_COMPANY,
        "MemberId": "cwapi",
        "Action": action,
        "Type": kind.lower(),
        "ID": record["id"],
        "CallbackObjectRecId": callback["id"],
        "Entity": to_json(record).decode(),
    }


class CallbackDispatcher:
    def __init__(self, state: CwState, from_url: str = "", timeout: float = 5.0):
        self.state, self.from_url, self.timeout = state, from_url, timeout
        self.queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=10_000)
        self.delivered = 0
        self.failed = 0
        self._thread: threading.Thread | None = None
        state.listeners.append(self.on_change)

    def on_change(self, kind: str, action: str, record: Record) -> None:
        for callback in self.state.c["callbacks"].all():
            if matches(callback, kind, record):
                try:
                    self.queue.put_nowait((callback["url"], payload(callback, kind, action, record, self.from_url)))
                except queue.Full:
                    self.failed += 1
                self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cw-callbacks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # trust_env off: deliveries go straight to the registered URL, never through a proxy.
        with httpx.Client(timeout=self.timeout, trust_env=False) as client:
            while (item := self.queue.get()) is not None:
                url, body = item
                try:
                    client.post(url, json=body).raise_for_status()
                    self.delivered += 1
                except httpx.HTTPError as exc:
                    self.failed += 1
                    log.info("callback to %s failed: %s", url, exc)
                finally:
                    self.queue.task_done()
            self.queue.task_done()

    def join(self) -> None:
        """Wait until every queued message was attempted (for tests and shutdown)."""
        if self._thread is not None:
            self.queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self.queue.put(None)
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None
