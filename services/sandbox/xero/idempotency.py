"""Xero's Idempotency-Key: a retried PUT/POST with the same key, URL, method
and body gets the first response back without acting again. Keys are kept for
a window of sandbox time (15 minutes unless configured)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Callable

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    status: int
    body: bytes
    at: float


class IdempotencyStore:
    def __init__(self, now: Callable[[], float], window_seconds: float = 900) -> None:
        self.now = now
        self.window_seconds = window_seconds
        self._entries: dict[tuple[str, str], Remembered] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(method: str, url: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b"\0" + url.encode() + b"\0" + body).hexdigest()

    def _expire(self) -> None:
        horizon = self.now() - self.window_seconds
        for key in [k for k, e in self._entries.items() if e.at <= horizon]:
            del self._entries[key]

    def lookup(self, tenant: str, key: str, fingerprint: str) -> Remembered | None:
        """The remembered response for this exact request, if still in the window.
        The same key on a different request is treated as a new request."""
        with self._lock:
            self._expire()
            entry = self._entries.get((tenant, key))
            return entry if entry is not None and entry.fingerprint == fingerprint else None

    def remember(self, tenant: str, key: str, fingerprint: str, status: int, body: bytes) -> None:
        with self._lock:
            self._entries[(tenant, key)] = Remembered(fingerprint, status, body, self.now())
