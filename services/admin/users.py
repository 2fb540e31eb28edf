"""People and roles: named users, their passwords and API tokens, and who a secret belongs to.

A password is kept as its argon2id hash (argon2-cffi's defaults, rehashed when they change).
An API token is 256 random bits, shown once when its user is added and kept as its SHA-256:
a secret that random has no dictionary to slow down, and every API call looks its token up,
so a slow hash would cost each call tens of milliseconds for nothing.

The installation's admin token (CZ_ADMIN_TOKEN, or the one generated in the data directory)
stays the first admin, `admin`, for the first start and for scripts; no user may take its name.
Adding and revoking a user is a configuration change, recorded in the history with who made it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..common.database import Database
from ..common.db import one_row
from ..common.http_app import ROLES, Principal, UserAuth
from ..common.secrets import admin_token
from ..common.sign_in_limit import FailedSignIns
from ..mapping.history import record_change

BOOTSTRAP_NAME = "admin"
TOKEN_PREFIX = "czu_"  # tells a user's token from the installation's at a glance, in a script or a leak report
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name takes as long as a wrong password.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(Exception):
    """A request about users that cannot be carried out; `field` names what is wrong."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(f"{field}: {message}")
        self.field, self.status = field, status


@dataclass(frozen=True)
class User:
    name: str
    role: str
    has_password: bool
    created_by: str
    created_at: datetime

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "has_password": self.has_password,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: dict) -> User:
    return User(row["name"], row["role"], row["password_hash"] is not None, row["created_by"], row["created_at"])


class Users:
    def __init__(self, db: Database, bootstrap_token: str):
        self.db, self._bootstrap = db, bootstrap_token.encode()

    # ---- who a secret belongs to -------------------------------------------------------------
    def by_token(self, token: str) -> Principal | None:
        """The principal of the installation's admin token or a live user's API token."""
        if hmac.compare_digest(token.encode(), self._bootstrap):
            return Principal(BOOTSTRAP_NAME, "admin")
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self.db.connection() as conn:
            row = conn.execute(
                "select name, role from users where token_hash = %s and revoked_at is null", (token_hash(token),)
            ).fetchone()
        return Principal(row["name"], row["role"]) if row else None

    def by_password(self, name: str, password: str) -> Principal | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "select id, name, role, password_hash from users where lower(name) = lower(%s) and revoked_at is null",
                (name.strip(),),
            ).fetchone()
            stored = row["password_hash"] if row and row["password_hash"] else _UNKNOWN_USER_HASH
            try:
                _hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None or not row["password_hash"]:
                return None
            if _hasher.check_needs_rehash(stored):  # the library's defaults grew: keep up at the next sign-in
                conn.execute("update users set password_hash = %s where id = %s", (_hasher.hash(password), row["id"]))
        return Principal(row["name"], row["role"])

    def sign_in(self, name: str, secret: str) -> tuple[str, str] | None:
        """The console's Authenticator: a name and its password, or no name and an API token."""
        secret = secret.strip() if not name.strip() else secret
        found = self.by_password(name, secret) if name.strip() else self.by_token(secret)
        return (found.name, found.role) if found else None

    # ---- the people ----------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str | None, actor: str) -> tuple[User, str]:
        """A new user and its API token: the only time the token is seen."""
        if name.strip().lower() == BOOTSTRAP_NAME:
            raise UserError("name", f"{BOOTSTRAP_NAME!r} is the installation's admin token; choose another name", 409)
        if role not in ROLES:
            raise UserError("role", f"{role!r} is not one of {', '.join(ROLES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        password_hash = _hasher.hash(password) if password else None
        with self.db.unit_of_work() as conn:
            taken = conn.execute(
                "select 1 from users where lower(name) = lower(%s) and revoked_at is null", (name,)
            ).fetchone()
            if taken:
                raise UserError("name", f"a user named {name!r} exists; revoke it first to reuse the name", 409)
            row = one_row(
                conn,
                "insert into users (name, role, password_hash, token_hash, created_by)"
                " values (%s, %s, %s, %s, %s) returning *",
                (name, role, password_hash, token_hash(token), actor),
            )
            user = _user(row)
            record_change(conn, "users", name, "insert", actor, None, _public(user))
        return user, token

    def list(self) -> list[User]:
        with self.db.connection() as conn:
            rows = conn.execute("select * from users where revoked_at is null order by lower(name)").fetchall()
        return [_user(r) for r in rows]

    def revoke(self, name: str, actor: str) -> User:
        """Revokes the user's token and password and ends its console sessions, at once."""
        with self.db.unit_of_work() as conn:
            row = conn.execute(
                "update users set revoked_at = now(), revoked_by = %s where lower(name) = lower(%s)"
                " and revoked_at is null returning *",
                (actor, name),
            ).fetchone()
            if row is None:
                raise UserError("name", f"no user named {name!r}", 404)
            conn.execute(
                "update console_sessions set ended_at = now() where user_name = %s and ended_at is null", (row["name"],)
            )
            user = _user(row)
            record_change(conn, "users", row["name"], "delete", actor, _public(user), None)
        return user


def _public(user: User) -> dict:
    """What the history keeps of a user: never a secret, not even a hash."""
    return {"name": user.name, "role": user.role, "has_password": user.has_password}


def user_auth(settings, db: Database, users: Users | None = None) -> UserAuth:
    """The admin API's door for an installation: its admin token and its users' tokens, with the
    limit on failed sign-ins from the settings."""
    users = users or Users(db, admin_token(settings))
    return UserAuth(users.by_token, FailedSignIns(settings.signin_max_failures, settings.signin_window_seconds))
