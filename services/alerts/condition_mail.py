"""The email about a condition episode: it began, it ended, or (when mail could not go out
in between) it began and ended. One email per episode end, whatever it touched."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import quote

from .compose import SUBJECT_PREFIX, kind_label, new_message, utc_text
from .conditions import CONNECTWISE_OUTAGE, SENDS_RECOVERY, XERO_CREDENTIAL, XERO_TOKEN_EXPIRING

_BEGAN = {
    XERO_CREDENTIAL: "Xero connection lost for organisation {subject}",
    CONNECTWISE_OUTAGE: "ConnectWise is failing",
    XERO_TOKEN_EXPIRING: "Xero connection of organisation {subject} lapses soon",
}
_ENDED = {
    XERO_CREDENTIAL: "Organisation {subject} writes to Xero again",
    CONNECTWISE_OUTAGE: "ConnectWise is answering again",
}


def _title(table: dict, episode: dict) -> str:
    return table.get(episode["kind"], episode["kind"]).format(subject=episode["subject"])


def _console_line(episode: dict, admin_url: str) -> str:
    """Where the reader acts: an organisation's page holds its Reconnect to Xero button."""
    base = admin_url.rstrip("/")
    if episode["kind"] in (XERO_CREDENTIAL, XERO_TOKEN_EXPIRING):
        page = f"{base}/organisations/{quote(episode['subject'], safe='')}"
        return f"The organisation's page, with Reconnect to Xero: {page}"
    return f"Console: {base}/"


def condition_email(
    episode: dict, waiting: list[dict], admin_url: str, sender: str, recipients: list[str]
) -> EmailMessage:
    """`waiting`: some of the records the episode holds up (record_type, record_id), if any."""
    ended = episode["resolved_at"] is not None
    began_told = episode["notified_at"] is not None
    if ended and began_told:
        subject = _title(_ENDED, episode)
        lines = [
            f"{_title(_ENDED, episode)} (since {utc_text(episode['resolved_at'])}).",
            f"It began {utc_text(episode['opened_at'])}. Last known: {episode['message']}",
        ]
    elif ended:
        subject = f"{_title(_BEGAN, episode)} (over now)"
        lines = [
            (
                f"{_title(_BEGAN, episode)} from {utc_text(episode['opened_at'])} to "
                f"{utc_text(episode['resolved_at'])}; this could not be emailed while it lasted."
            ),
            episode["message"],
        ]
    else:
        subject = _title(_BEGAN, episode)
        lines = [episode["message"], f"Since: {utc_text(episode['opened_at'])}"]
        if waiting:
            shown = ", ".join(f"{kind_label(r['record_type'])} {r['record_id']}" for r in waiting)
            lines.append(
                (f"Waiting, among others: {shown}" if len(waiting) >= 20 else f"Waiting: {shown}")
                + ". Each is listed on the console's Exceptions page."
            )
        if episode["kind"] in SENDS_RECOVERY:
            lines.append("You get this one email however many records or cycles it touches, and one more when it ends.")
    lines.append(_console_line(episode, admin_url))
    return new_message(f"{SUBJECT_PREFIX} {subject}", "\n\n".join(lines) + "\n", sender, recipients)
