"""Outbox: the alert emails the local SMTP capture server received, each readable here,
its links live (they lead into this console)."""

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from markupsafe import Markup, escape

from ...common.outbox import read_messages
from .context import Console
from .session import Viewer

_URL = re.compile(r"https?://[^\s<>\"]+")


def linked(text: str) -> Markup:
    """The body as text, its URLs as links (everything else escaped)."""
    out, last = [], 0
    for match in _URL.finditer(text or ""):
        out.append(escape(text[last : match.start()]))
        url = escape(match.group(0))
        out.append(Markup(f'<a href="{url}">{url}</a>'))
        last = match.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


def outbox_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]

    @router.get("/outbox")
    def outbox(request: Request, _viewer: Reader):
        messages = read_messages(console.settings.data_dir, 200)
        return console.render.page(
            request,
            "outbox.html",
            messages=messages,
            relay=bool(
                console.settings.smtp_url
                and "127.0.0.1" not in console.settings.smtp_url
                and "localhost" not in console.settings.smtp_url
            ),
        )

    @router.get("/outbox/{message_id}")
    def message(request: Request, message_id: str, _viewer: Reader):
        found = next((m for m in read_messages(console.settings.data_dir, 1000) if m["id"] == message_id), None)
        if found is None:
            raise HTTPException(404, f"message: no captured email {message_id!r}")
        return console.render.page(request, "message.html", m=found, body=linked(found["text"]))

    return router
