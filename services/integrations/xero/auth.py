"""Xero OAuth tokens: refreshed before they expire, each rotation persisted
atomically in one place before the new token is used.

Where a credential lives
- `organisations.credential_sealed` holds the refresh token a person connected
  (the admin API writes it when an organisation is connected or reconnected).
  It is only ever the seed.
- `xero_tokens` holds the working copy: the newest refresh token and the
  current access token, sealed with SecretBox. Its key, the credential id, is
  derived from the seed (`cred-` + SHA-256 of the connected refresh token):
  organisations connected with the same token (one Xero login can reach several
  organisations) share one row and so one rotation chain, and reconnecting an
  organisation with a new token starts a new row. Once a token has rotated,
  this row is the only place that holds the current one.

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

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from tenacity import Retrying, retry_if_exception_type

from ...common.db import connect, one_row
from ...common.secrets import SecretBox

log = logging.getLogger(__name__)
REFRESH_MARGIN = timedelta(minutes=2)  # refresh this long before expiry: clocks drift, calls take time


class CredentialError(Exception):
    """The organisation's Xero credential is missing or revoked: a person must reconnect it."""

    def __init__(self, organisation_id: str, reason: str):
        super().__init__(
            f"organisation {organisation_id}: Xero credential unusable ({reason}); reconnect it in the admin UI"
        )
        self.organisation_id = organisation_id
        self.reason = reason


class TokenEndpointUnavailable(Exception):
    """The token endpoint failed in a way worth retrying (5xx, 429, transport)."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


def _wait_for_token_endpoint(retry_state) -> float:
    """Exponential backoff after a failure; exactly Retry-After after a 429."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    retry_after = getattr(exc, "retry_after", 0.0)
    if retry_after > 0:
        return retry_after
    return min(0.5 * 2 ** (retry_state.attempt_number - 1), 10.0)


def _give_up(retry_state) -> bool:
    """A run of 429s is waited out (up to 60 answers); other failures get 8 attempts."""
    rate_limited = getattr(retry_state, "cz_rate_limited", 0)
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if getattr(exc, "retry_after", 0.0) > 0:
        retry_state.cz_rate_limited = rate_limited + 1
        return retry_state.cz_rate_limited >= 60
    return retry_state.attempt_number - rate_limited >= 8


@dataclass
class AccessToken:
    token: str
    expires_at: datetime


class PostgresTokenStore:
    def __init__(self, postgres_url: str, box: SecretBox):
        self.url, self.box = postgres_url, box

    def connect(self, organisation_id: str, refresh_token: str) -> None:
        """Stores a freshly connected refresh token in the organisation row (what the admin API does)."""
        with connect(self.url) as conn:
            conn.execute(
                "update organisations set credential_sealed = %s, credential_updated_at = now(), "
                "status = 'connected', updated_at = now() where id = %s",
                (self.box.seal(refresh_token), organisation_id),
            )

    def credential_of(self, conn, organisation_id: str) -> tuple[str, str]:
        """(credential id, seed refresh token) of the organisation; CredentialError when it has none."""
        org = conn.execute("select credential_sealed from organisations where id = %s", (organisation_id,)).fetchone()
        if org is None:
            raise CredentialError(organisation_id, "organisation not found")
        if not org["credential_sealed"]:
            raise CredentialError(organisation_id, "not connected to Xero")
        seed = self.box.open(org["credential_sealed"])
        return "cred-" + hashlib.sha256(seed.encode()).hexdigest()[:40], seed

    def current_refresh_token(self, organisation_id: str) -> str | None:
        """The refresh token the next refresh will spend (None before the first use)."""
        with connect(self.url) as conn:
            cred, _seed = self.credential_of(conn, organisation_id)
            row = conn.execute(
                "select refresh_token_sealed from xero_tokens where credential_id = %s", (cred,)
            ).fetchone()
        return self.box.open(row["refresh_token_sealed"]) if row else None

    def refreshed(self, organisation_id: str, margin: timedelta, refresh) -> AccessToken:
        """The stored access token if it lives beyond `margin`, else `refresh(refresh_token)` ->
        (access, expires_at, new_refresh), persisted in the same transaction before returning."""
        with connect(self.url) as conn, conn.transaction():
            cred, seed = self.credential_of(conn, organisation_id)
            # The first use of a credential creates its working copy from the seed.
            conn.execute(
                "insert into xero_tokens (credential_id, refresh_token_sealed) values (%s, %s) "
                "on conflict (credential_id) do nothing",
                (cred, self.box.seal(seed)),
            )
            row = one_row(conn, "select * from xero_tokens where credential_id = %s for update", (cred,))
            now = datetime.now(timezone.utc)
            if row["access_token_sealed"] and row["access_expires_at"] and row["access_expires_at"] - margin > now:
                return AccessToken(self.box.open(row["access_token_sealed"]), row["access_expires_at"])
            access, expires_at, new_refresh = refresh(self.box.open(row["refresh_token_sealed"]))
            conn.execute(
                "update xero_tokens set refresh_token_sealed = %s, access_token_sealed = %s, access_expires_at = %s, "
                "rotated_at = now() where credential_id = %s",
                (self.box.seal(new_refresh), self.box.seal(access), expires_at, cred),
            )
        return AccessToken(access, expires_at)  # the transaction committed: the rotation is durable

    def forget_access(self, organisation_id: str) -> None:
        with connect(self.url) as conn:
            cred, _seed = self.credential_of(conn, organisation_id)
            conn.execute(
                "update xero_tokens set access_token_sealed = null, access_expires_at = null where credential_id = %s",
                (cred,),
            )

    def mark_disconnected(self, organisation_id: str) -> None:
        with connect(self.url) as conn:
            conn.execute(
                "update organisations set status = 'disconnected', updated_at = now() where id = %s", (organisation_id,)
            )


class TokenManager:
    """Hands out access tokens per organisation, refreshing through the store."""

    def __init__(
        self,
        store: PostgresTokenStore,
        http: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: str,
        margin: timedelta = REFRESH_MARGIN,
    ):
        self.store, self.http, self.token_url = store, http, token_url
        self.auth = (client_id, client_secret)
        self.margin = margin
        self._cache: dict[str, AccessToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def access_token(self, organisation_id: str) -> str:
        with self._guard:
            lock = self._locks.setdefault(organisation_id, threading.Lock())
        with lock:
            cached = self._cache.get(organisation_id)
            if cached and cached.expires_at - self.margin > datetime.now(timezone.utc):
                return cached.token
            token = self.store.refreshed(organisation_id, self.margin, lambda rt: self._refresh(organisation_id, rt))
            self._cache[organisation_id] = token
            return token.token

    def invalidate(self, organisation_id: str) -> None:
        """After a 401: the access token is no good, whatever its expiry said."""
        self._cache.pop(organisation_id, None)
        self.store.forget_access(organisation_id)

    def _refresh(self, organisation_id: str, refresh_token: str) -> tuple[str, datetime, str]:
        retrying = Retrying(
            retry=retry_if_exception_type(TokenEndpointUnavailable),
            stop=_give_up,
            wait=_wait_for_token_endpoint,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._refresh_once(organisation_id, refresh_token)
        raise AssertionError("unreachable")

    def _refresh_once(self, organisation_id: str, refresh_token: str) -> tuple[str, datetime, str]:
        sent_at = time.time()
        try:
            resp = self.http.post(
                self.token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=self.auth,
                extensions={"cz": {"organisation_id": organisation_id}},
            )
        except httpx.TransportError as exc:
            raise TokenEndpointUnavailable(str(exc)) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            log.info("token endpoint answered %s for %s", resp.status_code, organisation_id)
            retry_after = resp.headers.get("Retry-After", "")
            # A 429 without Retry-After still waits a second rather than backing off.
            raise TokenEndpointUnavailable(
                f"token endpoint answered {resp.status_code}",
                float(retry_after) if retry_after.isdigit() else (1.0 if resp.status_code == 429 else 0.0),
            )
        body = _json(resp)
        if resp.status_code != 200:
            error = body.get("error") or f"HTTP {resp.status_code}"
            if error in ("invalid_grant", "unauthorized_client", "invalid_client"):
                self.store.mark_disconnected(organisation_id)
            raise CredentialError(organisation_id, str(error))
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
