"""Who receives alert emails and when the daily digest goes out, as a person set them at run time
(the console, `PUT /api/settings/alerts`); `CZ_ALERT_DIGEST_HOUR_UTC` and `CZ_ALERT_EMAIL_TO` apply until
then. The admin API writes them, the alerts service reads them at each check: the contract is here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from .db import Conn
from .settings import Settings


@dataclass(frozen=True)
class AlertSettings:
    digest_hour_utc: int
    recipients: list[str]
    source: str  # "set" (at run time) or "environment"
    set_by: str | None = None
    set_at: datetime | None = None

    def as_json(self) -> dict:
        out = asdict(self)
        out["set_at"] = self.set_at.isoformat() if self.set_at else None
        return out


def parse_recipients(text: str) -> list[str]:
    """Comma- or line-separated addresses; a ValueError names the field and the bad address."""
    addresses = [a.strip() for a in text.replace("\n", ",").split(",") if a.strip()]
    if not addresses:
        raise ValueError("recipients: name at least one email address")
    for address in addresses:
        local, _, domain = address.partition("@")
        if not local or "." not in domain or " " in address:
            raise ValueError(f"recipients: {address!r} is not an email address")
    return addresses


def check_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise ValueError(f"digest_hour_utc: {hour} is not an hour from 0 to 23")
    return hour


def effective(conn: Conn, settings: Settings) -> AlertSettings:
    row = conn.execute("select digest_hour_utc, recipients, set_by, set_at from alert_settings").fetchone()
    if row:
        return AlertSettings(
            row["digest_hour_utc"], parse_recipients(row["recipients"]), "set", row["set_by"], row["set_at"]
        )
    return AlertSettings(settings.alert_digest_hour_utc, parse_recipients(settings.alert_email_to), "environment")


def store(conn: Conn, digest_hour_utc: int, recipients: list[str], actor: str) -> None:
    conn.execute(
        "insert into alert_settings (digest_hour_utc, recipients, set_by) values (%s, %s, %s)"
        " on conflict (id) do update set digest_hour_utc = excluded.digest_hour_utc,"
        " recipients = excluded.recipients, set_by = excluded.set_by, set_at = now()",
        (check_hour(digest_hour_utc), ", ".join(recipients), actor),
    )
