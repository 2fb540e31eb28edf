"""Who is at the console: sign-in sessions and the CSRF token of each.

The cookie holds a random session id and its HMAC signature; Postgres holds the
session (`console_sessions`: the id's hash, who, which role, until when), so
sign-out ends it for good, not only in the browser that signed out. The CSRF
token of a session is derived from its id, so it needs no storage and changes
with every sign-in.

Roles are ranked viewer < operator < admin. The `Authenticator` the console is
given says who a name and secret are: the admin service's is its users
(`services/admin/users.py`: a name and password, or a token, the admin token
signing in as `admin`), and every page says which role it needs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from ...common.database import Database
from ...common.http_app import ROLES

COOKIE = "cz_session"
LIFETIME = timedelta(hours=8)  # a working day; the cookie and the row expire together


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as every console page sees them."""

    name: str
    role: str
    session_id: str
    csrf_token: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class Authenticator(Protocol):
    def __call__(self, name: str, secret: str) -> tuple[str, str] | None:
        """(user name, role) when the credentials are good, else None."""


def admin_token_authenticator(token: str) -> Authenticator:
    """The admin token signs in as `admin` with the admin role, whatever name is typed."""

    def authenticate(name: str, secret: str) -> tuple[str, str] | None:  # any name: the token says who
        if secret and hmac.compare_digest(secret.strip().encode(), token.encode()):
            return "admin", "admin"
        return None

    return authenticate


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database, secret_key: str, lifetime: timedelta = LIFETIME):
        # Keys of their own, derived from the installation's secret: a cookie signature is not a CSRF token.
        self._sign_key = hmac.new(secret_key.encode(), b"console-session-cookie", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret_key.encode(), b"console-csrf", hashlib.sha256).digest()
        self.db, self.lifetime = db, lifetime

    def _signature(self, session_id: str) -> str:
        return hmac.new(self._sign_key, session_id.encode(), hashlib.sha256).hexdigest()

    def _viewer(self, session_id: str, name: str, role: str) -> Viewer:
        csrf = hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).hexdigest()
        return Viewer(name, role, session_id, csrf)

    def start(self, name: str, role: str) -> tuple[str, Viewer]:
        """A new session; returns the cookie value and the viewer."""
        if role not in ROLES:
            raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        session_id = secrets.token_urlsafe(32)
        with self.db.connection() as conn:
            conn.execute(
                "insert into console_sessions (id_hash, user_name, role, expires_at) values (%s, %s, %s, %s)",
                (_hash(session_id), name, role, datetime.now(timezone.utc) + self.lifetime),
            )
            # Sessions long expired are of no use to anyone: tidy them while we are here.
            conn.execute("delete from console_sessions where expires_at < now() - interval '7 days'")
        return f"{session_id}.{self._signature(session_id)}", self._viewer(session_id, name, role)

    def viewer(self, cookie: str | None) -> Viewer | None:
        """The viewer of a live session, or None (no cookie, bad signature, expired, signed out)."""
        session_id, _, signature = (cookie or "").partition(".")
        if not session_id or not hmac.compare_digest(signature.encode(), self._signature(session_id).encode()):
            return None
        with self.db.connection() as conn:
            row = conn.execute(
                "select user_name, role from console_sessions where id_hash = %s"
                " and ended_at is null and expires_at > now()",
                (_hash(session_id),),
            ).fetchone()
        return self._viewer(session_id, row["user_name"], row["role"]) if row else None

    def end(self, viewer: Viewer) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "update console_sessions set ended_at = now() where id_hash = %s and ended_at is null",
                (_hash(viewer.session_id),),
            )
