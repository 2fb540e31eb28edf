"""Xero OAuth tokens: refreshed before they expire, each rotation persisted
atomically in one place before the new token is used.

Where a credential lives
- `organisations.credential_sealed` holds the refresh token a person connected
  (the admin API writes it, with `credential_updated_at`). It is the seed.
- `xero_tokens` (keyed by credential id, which is the organisation id: each
  organisation has its own credential) holds the working copy: the newest
  refresh token and the current access token, both sealed with SecretBox.
  Once a token has been rotated, only this row is current.
- The organisation row wins again only when it is newer than the working copy
  (`credential_updated_at > rotated_at`: somebody reconnected the organisation).

Refreshing happens inside one transaction that holds the `xero_tokens` row
lock (`select ... for update`), so two writers never spend the same refresh
token; the new refresh token and access token are committed before the access
token is handed out. If the commit were lost, the previous refresh token stays
valid for Xero's 30-minute grace period, so the next try still works.

An `invalid_grant` answer means the credential is gone (revoked, or unused for
60 days): the organisation is marked `disconnected` and `CredentialError` is
raised, which callers treat as persistent, never as something to retry.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from .db import connect
from .secrets import SecretBox

REFRESH_MARGIN = timedelta(minutes=2)  # refresh this long before expiry: clocks drift, calls take time


class CredentialError(Exception):
    """The organisation's Xero credential is missing or revoked: a person must reconnect it."""

    def __init__(self, organisation_id: str, reason: str):
        super().__init__(f"organisation {organisation_id}: Xero credential unusable ({reason}); reconnect it in the admin UI")
        self.organisation_id = organisation_id
        self.reason = reason


class TokenEndpointUnavailable(Exception):
    """The token endpoint failed in a way worth retrying (5xx, transport)."""


@dataclass
class AccessToken:
    token: str
    expires_at: datetime


class PostgresTokenStore:
    def __init__(self, postgres_url: str, box: SecretBox):
        self.url, self.box = postgres_url, box

    def seed(self, credential_id: str, refresh_token: str) -> None:
        """Stores a freshly connected refresh token in the organisation row (what the admin API does)."""
        with connect(self.url) as conn:
            conn.execute("update organisations set credential_sealed = %s, credential_updated_at = now(), "
                         "status = 'connected', updated_at = now() where id = %s",
                         (self.box.seal(refresh_token), credential_id))

    def current_refresh_token(self, credential_id: str) -> str | None:
        with connect(self.url) as conn:
            row = conn.execute("select refresh_token_sealed from xero_tokens where credential_id = %s",
                               (credential_id,)).fetchone()
        return self.box.open(row["refresh_token_sealed"]) if row else None

    def _working_copy(self, conn, credential_id: str) -> dict:
        """The row to use, locked; created (or replaced) from the organisation row when that is newer."""
        org = conn.execute("select credential_sealed, credential_updated_at from organisations where id = %s",
                           (credential_id,)).fetchone()
        row = conn.execute("select * from xero_tokens where credential_id = %s for update", (credential_id,)).fetchone()
        newer_seed = org and org["credential_sealed"] and (
            row is None or (org["credential_updated_at"] and org["credential_updated_at"] > row["rotated_at"]))
        if newer_seed:
            conn.execute(
                "insert into xero_tokens (credential_id, refresh_token_sealed, rotated_at) values (%s, %s, now()) "
                "on conflict (credential_id) do update set refresh_token_sealed = excluded.refresh_token_sealed, "
                "access_token_sealed = null, access_expires_at = null, rotated_at = now()",
                (credential_id, org["credential_sealed"]))
            row = conn.execute("select * from xero_tokens where credential_id = %s for update", (credential_id,)).fetchone()
        if row is None:
            raise CredentialError(credential_id, "no refresh token stored" if org else "organisation not found")
        return row

    def refreshed(self, credential_id: str, margin: timedelta, refresh) -> AccessToken:
        """The stored access token if it lives beyond `margin`, else `refresh(refresh_token)` ->
        (access, expires_at, new_refresh), persisted in the same transaction before returning."""
        with connect(self.url) as conn, conn.transaction():
            row = self._working_copy(conn, credential_id)
            now = datetime.now(timezone.utc)
            if row["access_token_sealed"] and row["access_expires_at"] and row["access_expires_at"] - margin > now:
                return AccessToken(self.box.open(row["access_token_sealed"]), row["access_expires_at"])
            access, expires_at, new_refresh = refresh(self.box.open(row["refresh_token_sealed"]))
            conn.execute(
                "update xero_tokens set refresh_token_sealed = %s, access_token_sealed = %s, access_expires_at = %s, "
                "rotated_at = now() where credential_id = %s",
                (self.box.seal(new_refresh), self.box.seal(access), expires_at, credential_id))
        return AccessToken(access, expires_at)  # the transaction committed: the rotation is durable

    def forget_access(self, credential_id: str) -> None:
        with connect(self.url) as conn:
            conn.execute("update xero_tokens set access_token_sealed = null, access_expires_at = null "
                         "where credential_id = %s", (credential_id,))

    def mark_disconnected(self, credential_id: str) -> None:
        with connect(self.url) as conn:
            conn.execute("update organisations set status = 'disconnected', updated_at = now() where id = %s",
                         (credential_id,))


class TokenManager:
    """Hands out access tokens per credential, refreshing through the store."""

    def __init__(self, store: PostgresTokenStore, http: httpx.Client, token_url: str, client_id: str,
                 client_secret: str, margin: timedelta = REFRESH_MARGIN):
        self.store, self.http, self.token_url = store, http, token_url
        self.auth = (client_id, client_secret)
        self.margin = margin
        self._cache: dict[str, AccessToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def access_token(self, credential_id: str) -> str:
        with self._guard:
            lock = self._locks.setdefault(credential_id, threading.Lock())
        with lock:
            cached = self._cache.get(credential_id)
            if cached and cached.expires_at - self.margin > datetime.now(timezone.utc):
                return cached.token
            token = self.store.refreshed(credential_id, self.margin, lambda rt: self._refresh(credential_id, rt))
            self._cache[credential_id] = token
            return token.token

    def invalidate(self, credential_id: str) -> None:
        """After a 401: the access token is no good, whatever its expiry said."""
        self._cache.pop(credential_id, None)
        self.store.forget_access(credential_id)

    def _refresh(self, credential_id: str, refresh_token: str) -> tuple[str, datetime, str]:
        retrying = Retrying(retry=retry_if_exception_type(TokenEndpointUnavailable), stop=stop_after_attempt(5),
                            wait=wait_exponential(multiplier=0.5, max=10), reraise=True)
        for attempt in retrying:
            with attempt:
                return self._refresh_once(credential_id, refresh_token)
        raise AssertionError("unreachable")

    def _refresh_once(self, credential_id: str, refresh_token: str) -> tuple[str, datetime, str]:
        sent_at = time.time()
        try:
            resp = self.http.post(self.token_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                                  auth=self.auth, extensions={"cz": {"organisation_id": credential_id}})
        except httpx.TransportError as exc:
            raise TokenEndpointUnavailable(str(exc)) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TokenEndpointUnavailable(f"token endpoint answered {resp.status_code}")
        body = _json(resp)
        if resp.status_code != 200:
            error = body.get("error") or f"HTTP {resp.status_code}"
            if error in ("invalid_grant", "unauthorized_client", "invalid_client"):
                self.store.mark_disconnected(credential_id)
            raise CredentialError(credential_id, str(error))
        try:
            expires_at = datetime.fromtimestamp(sent_at + int(body.get("expires_in", 1800)), timezone.utc)
            return body["access_token"], expires_at, body.get("refresh_token") or refresh_token
        except (KeyError, ValueError) as exc:
            raise TokenEndpointUnavailable(f"token endpoint answer lacks {exc}") from exc


def _json(resp: httpx.Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
