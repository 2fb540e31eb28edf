"""Keeps secrets out of logs and the audit log.

Headers and JSON fields that carry credentials are replaced wholesale; free
text is scrubbed of bearer tokens, Basic credentials and token-looking fields.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .receiver_urls import CW_CALLBACK_PREFIX

REDACTED = "***"
SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-xero-signature", "proxy-authorization"}
SECRET_FIELDS = {
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "private_key",
    "privatekey",
    "code_verifier",
    "webhook_key",
}
_SECRET_FIELDS_LOWER = {f.lower() for f in SECRET_FIELDS}
# The per-installation secret in the ConnectWise callback URL (registered with ConnectWise, so it
# appears in the bodies of those calls).
_CALLBACK_SECRET = re.compile(re.escape(CW_CALLBACK_PREFIX) + r"[^/?#\s\"'&]+")
_PATTERNS = [
    (_CALLBACK_SECRET, CW_CALLBACK_PREFIX + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(
            r'(?i)("?(?:access_token|refresh_token|client_secret|id_token|password|private_key)"?\s*[:=]\s*"?)([^"&\s,}]+)'
        ),
        r"\1" + REDACTED,
    ),
]


def redact_text(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_headers(headers: dict[str, str] | Any) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else str(v)) for k, v in dict(headers).items()}


def redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k.lower() in _SECRET_FIELDS_LOWER else redact_value(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, str) and CW_CALLBACK_PREFIX in value:
        return _CALLBACK_SECRET.sub(CW_CALLBACK_PREFIX + REDACTED, value)
    return value


def redact_body(body: str | bytes | None) -> str | None:
    """A request or response body with secret fields replaced, JSON or form-encoded."""
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        return json.dumps(redact_value(json.loads(body)))
    except (ValueError, TypeError):
        pass
    if "=" in body and "&" in body or body.startswith(("grant_type=", "refresh_token=")):
        parts = []
        for pair in body.split("&"):
            key, _, val = pair.partition("=")
            parts.append(f"{key}={REDACTED}" if key.lower() in _SECRET_FIELDS_LOWER else pair)
        return "&".join(parts)
    return redact_text(body)
