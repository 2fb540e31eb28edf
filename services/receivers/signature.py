"""Xero's webhook signature: base64 of HMAC-SHA256 over the raw body with the webhook
key. Pure. The compare is constant-time so a forger learns nothing from timings."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verified(key: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` (the `x-xero-signature` header) is Xero's for this body. Without a
    key nothing can be verified, so nothing is."""
    if not key or not signature:
        return False
    return hmac.compare_digest(sign(key, body).encode(), signature.strip().encode())


def same_secret(expected: str, given: str) -> bool:
    """The ConnectWise callback URL's secret, compared in constant time."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
