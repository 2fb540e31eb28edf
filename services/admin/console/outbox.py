"""Outbox: the alert emails the local SMTP capture server received, newest first and paged,
each readable here, its links live (they lead into this console)."""

import re
from email.utils import parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from markupsafe import Markup, escape

from ...common.outbox import outbox_dir, read_messages
from .context import Console
from .listing import Listing
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


def with_sent_at(message: dict) -> dict:
    """The message with its Date header as an instant (`sent_at`), for the viewer's clock; None if it has none."""
    try:
        sent_at = parsedate_to_datetime(str(message["date"])) if message["date"] else None
    except (TypeError, ValueError):  # a Date header no mail reader could read either
        sent_at = None
    return {**message, "sent_at": sent_at}


def outbox_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Reader = Annotated[Viewer, Depends(console.gate.role("viewer"))]

    @router.get("/outbox")
    def outbox(request: Request, _viewer: Reader):
        listing = Listing.of(request, ("received",), "received")
        folder = outbox_dir(console.settings.data_dir)
        total = sum(1 for _ in folder.glob("*.eml")) if folder.exists() else 0
        # Newest first: a page is read up to its end, and only its own messages are shown.
        messages = read_messages(console.settings.data_dir, listing.offset + listing.page_size)[listing.offset :]
        return console.render.page(
            request,
            "outbox.html",
            messages=[with_sent_at(m) for m in messages],
            pages=listing.pages(total),
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
        return console.render.page(request, "message.html", m=with_sent_at(found), body=linked(found["text"]))

    return router
