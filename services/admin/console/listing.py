"""Lists on console pages: which page and sort the address asks for, links that change
one of them and keep every filter, and dates typed in the viewer's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import Request
from markupsafe import Markup, escape

from .rendering import viewer_zone

PAGE_SIZE = 50


class FieldError(ValueError):
    """A filter or form value that cannot be used: names the field and why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class Listing:
    request: Request
    sort: str
    descending: bool
    page: int
    page_size: int = PAGE_SIZE

    @classmethod
    def of(cls, request: Request, sorts: tuple[str, ...] | dict, default: str, descending: bool = True) -> "Listing":
        params = request.query_params
        asked = params.get("sort")
        sort = asked if asked is not None and asked in sorts else default
        order = params.get("dir")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(request, sort, descending if order not in ("asc", "desc") else order == "desc", page)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def url(self, **changes) -> str:
        params = {k: v for k, v in self.request.query_params.items()}
        params.update({k: str(v) for k, v in changes.items() if v is not None})
        for key in [k for k, v in changes.items() if v is None]:
            params.pop(key, None)
        return f"{self.request.url.path}?{urlencode(params)}"

    def sort_header(self, column: str, label: str, numeric: bool = False) -> Markup:
        """A column header that sorts by `column`, the other way round when it already does."""
        descending = not self.descending if self.sort == column else column not in ("number", "customer", "name")
        href = self.url(sort=column, dir="desc" if descending else "asc", page=None)
        state = ""
        if self.sort == column:
            state = f' aria-sort="{"descending" if self.descending else "ascending"}"'
        css = ' class="num"' if numeric else ""
        return Markup(f'<th{css}{state}><a href="{escape(href)}">{escape(label)}</a></th>')

    def pages(self, total: int) -> dict:
        last = max(1, -(-total // self.page_size))
        return {
            "page": self.page,
            "last": last,
            "total": total,
            "first_shown": min(total, self.offset + 1),
            "last_shown": min(total, self.offset + self.page_size),
            "prev_url": self.url(page=self.page - 1) if self.page > 1 else None,
            "next_url": self.url(page=self.page + 1) if self.page < last else None,
        }


def local_day(request: Request, field: str, text: str | None, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD typed by the viewer, as the UTC instant their day starts (or, with `end`, ends)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(field, f"{text!r} is not a date like 2026-11-25") from None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=viewer_zone(request))


def local_instant(request: Request, field: str, text: str | None) -> datetime | None:
    """A date or date-time typed by the viewer (datetime-local input) as an aware instant in their zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(field, f"{text!r} is not a date and time like 2026-11-25T08:00") from None
    return moment.replace(tzinfo=viewer_zone(request)) if moment.tzinfo is None else moment
