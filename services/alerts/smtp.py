"""Sends mail through `CZ_SMTP_URL`: smtp://[user:pass@]host:port (plain, or
STARTTLS with `?starttls=true`) or smtps://... (TLS from the start).

Transient failures (connection refused or dropped, 4xx replies) are retried
with backoff; a 5xx reply is permanent and raised at once.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential


class SmtpUrlError(ValueError):
    """CZ_SMTP_URL cannot be used; says why."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget({self.host}:{self.port}, user={self.username!r}, tls={self.implicit_tls or self.starttls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlparse(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError(f"CZ_SMTP_URL: scheme must be smtp or smtps, not {parts.scheme!r}")
    if not parts.hostname:
        raise SmtpUrlError("CZ_SMTP_URL: no host")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise SmtpUrlError("CZ_SMTP_URL: port is not a number") from None
    options = parse_qs(parts.query)
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=parts.scheme == "smtps",
        starttls=options.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
    )


SEND_ERRORS = (smtplib.SMTPException, OSError)  # the server refused, dropped or never answered


def is_transient(error: BaseException) -> bool:
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    return isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def send(target: SmtpTarget, message: EmailMessage, timeout: float = 15.0, attempts: int = 5) -> None:
    @retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=10),
        reraise=True,
    )
    def attempt() -> None:
        cls = smtplib.SMTP_SSL if target.implicit_tls else smtplib.SMTP
        with cls(target.host, target.port, timeout=timeout) as client:
            if target.starttls:
                client.starttls(context=ssl.create_default_context())
            if target.username:
                client.login(target.username, target.password or "")
            client.send_message(message)

    attempt()
