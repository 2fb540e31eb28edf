"""The captured mail: every message the embedded SMTP server (`services/mailbox`) accepts
is kept as an .eml file in the data directory, where the admin API's /api/outbox reads
it. The file layout is the contract between the two, kept here."""

from __future__ import annotations

import email
import email.policy
import os
import time
import uuid
from pathlib import Path


def outbox_dir(data_dir: Path) -> Path:
    return data_dir / "outbox"


def store_message(data_dir: Path, raw: bytes) -> Path:
    folder = outbox_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    tmp = folder / f".{name}"
    tmp.write_bytes(raw)
    os.replace(tmp, folder / name)  # readers never see half a message
    return folder / name


def read_messages(data_dir: Path, limit: int = 200) -> list[dict]:
    """Newest first: id, from, to, subject, date, text body."""
    folder = outbox_dir(data_dir)
    if not folder.exists():
        return []
    out = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        out.append(
            {
                "id": path.stem,
                "from": msg["From"],
                "to": msg["To"],
                "subject": msg["Subject"],
                "date": msg["Date"],
                "text": body.get_content() if body else "",
            }
        )
    return out
