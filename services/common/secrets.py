"""Secrets the embedded default generates once in the data directory (owner-only files),
and the encryption of credentials at rest."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


def generated_secret(data_dir: Path, name: str, make=lambda: secrets.token_urlsafe(32)) -> str:
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def admin_token(settings) -> str:
    return settings.admin_token or generated_secret(settings.data_dir, "admin_token")


def callback_secret(settings) -> str:
    """The secret in the ConnectWise callback URL: a stranger without it is refused."""
    return settings.callback_secret or generated_secret(settings.data_dir, "callback_secret")


def secret_key(settings) -> str:
    return settings.secret_key or generated_secret(
        settings.data_dir, "secret_key", lambda: Fernet.generate_key().decode()
    )


class SecretBox:
    """Encrypts credentials (refresh tokens, keys) before they reach Postgres."""

    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError("CZ_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from exc

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("credential cannot be decrypted with CZ_SECRET_KEY (wrong key?)") from exc
