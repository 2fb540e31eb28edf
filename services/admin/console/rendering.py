"""How console pages are rendered: Jinja2 templates on the server, with filters that
show times in the viewer's time zone and money in the organisation's currency.

Times are stored in UTC; the browser tells its time zone in the `cz_tz` cookie
(static/console.js sets it), so pages are rendered in it without client-side
rewriting. An unknown zone falls back to UTC and the header says so.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from ...common.record_kinds import RECORD_TYPES, RecordKind

TEMPLATES = Path(__file__).parent.parent / "templates"
TZ_COOKIE = "cz_tz"


def viewer_zone(request: Request) -> ZoneInfo:
    name = unquote(request.cookies.get(TZ_COOKIE, "UTC"))  # console.js encodes the slash
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@pass_context
def local_time(ctx, value: Any, with_seconds: bool = False) -> Markup:
    """A UTC time as the viewer reads it, with the UTC instant in the tooltip."""
    moment = as_datetime(value)
    if moment is None:
        return Markup('<span class="muted">never</span>') if value is None else Markup(escape(str(value)))
    zone = ctx.get("tz") or ZoneInfo("UTC")
    local = moment.astimezone(zone)
    shown = local.strftime("%d %b %Y %H:%M:%S" if with_seconds else "%d %b %Y %H:%M")
    utc = moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup(f'<time datetime="{utc}" title="{utc}">{escape(shown)}</time>')


def money(value: Any, currency: str | None = None) -> Markup:
    """Two decimals with thousands separators, and the currency code when known (never a float)."""
    if value is None or value == "":
        return Markup('<span class="muted">–</span>')
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return Markup(escape(str(value)))
    text = f"{amount.quantize(Decimal('0.01')):,.2f}"
    code = f'<span class="ccy">{escape(currency)}</span> ' if currency else ""
    return Markup(f'{code}<span class="amount">{escape(text)}</span>')


def kind_label(record_type: str) -> str:
    return RecordKind(record_type).label if record_type in RECORD_TYPES else record_type


def first_upper(text: str) -> str:
    """The first letter upper case, the rest as it is: "ConnectWise payment" stays, "credit note" becomes
    "Credit note" (Jinja's capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def short_id(value: Any, keep: int = 8) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(local=local_time, money=money, kind_label=kind_label, short_id=short_id, first_upper=first_upper)
    env.globals.update(RECORD_TYPES=RECORD_TYPES)
    return env


class Renderer:
    """Renders a template with what every page needs: the viewer, the CSRF token, the time zone."""

    def __init__(self, common: Callable[[Request], dict] | None = None):
        self.env = make_environment()
        self.common = common  # (request) -> dict of values every page shows (e.g. open exceptions)

    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        viewer = getattr(request.state, "viewer", None)
        values = {
            "request": request,
            "viewer": viewer,
            "csrf_token": viewer.csrf_token if viewer else "",
            "tz": viewer_zone(request),
            "path": request.url.path,
        }
        if viewer is not None and self.common is not None and not request.headers.get("HX-Request"):
            values.update(self.common(request))
        values.update(context)
        return HTMLResponse(self.env.get_template(template).render(values), status_code=status_code)
