"""Basic auth `company+public:private` plus the `clientId` header, checked on
every API call as ConnectWise does; a failure is a 401 with its error body."""

from __future__ import annotations

import base64
import binascii
import hmac
import json

from ...common.sandbox_identity import CW_CLIENT_ID, CW_COMPANY, CW_PRIVATE_KEY, CW_PUBLIC_KEY


def check(
    authorization: str | None,
    client_id: str | None,
    *,
    company: str = CW_COMPANY,
    public_key: str = CW_PUBLIC_KEY,
    private_key: str = CW_PRIVATE_KEY,
    expected_client_id: str = CW_CLIENT_ID,
) -> str | None:
    """None when the credentials are right, else the reason (never echoing secrets)."""
    if not client_id:
        return "The clientId header is required"
    if client_id != expected_client_id:
        return "The clientId is not registered"
    if not authorization or not authorization.lower().startswith("basic "):
        return "Basic authorization is required"
    try:
        user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "The authorization header is not valid base64"
    given_company, _, given_public = user.partition("+")
    ok = (
        given_company.lower() == company.lower()
        and hmac.compare_digest(given_public, public_key)
        and hmac.compare_digest(password, private_key)
    )
    return None if ok else "Invalid credentials"


class CwAuthMiddleware:
    """ASGI middleware guarding paths under `prefix`."""

    def __init__(self, app, prefix: str):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = check(headers.get("authorization"), headers.get("clientid"))
        if problem is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"code": "Unauthorized", "message": problem}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Basic realm="ConnectWise"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
