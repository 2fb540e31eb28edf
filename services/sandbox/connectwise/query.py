"""List queries as pure functions: read the query parameters, select and order
records, cut a page (numbered or forward-only), trim to `fields`, and build the
`Link` header. Errors are CwError 400s that name the parameter and the problem."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from .conditions import BoolOp, Compare, ConditionError, Not, compile_tree, lookup, match_custom_fields, parse
from .errors import CwError, bad_request
from .store import Collection, Record

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ListQuery:
    conditions: str | None = None
    custom_field_conditions: str | None = None
    order_by: tuple[tuple[tuple[str, ...], bool], ...] = ()  # (path, descending)
    fields: tuple[tuple[str, ...], ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    forward_only: bool = False
    page_id: int = 0


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{name} must be {limit}, got {value}")
    return value


def parse_list_query(params: Mapping[str, str], headers: Mapping[str, str]) -> ListQuery:
    """Query parameter names are matched without case, as ConnectWise does."""
    lowered = {k.lower(): v for k, v in params.items()}
    if lowered.get("childconditions"):
        # Refused rather than ignored: a silently dropped filter would return wrong records.
        raise bad_request("childConditions: not supported by this simulator")
    order = []
    for part in filter(None, (p.strip() for p in (lowered.get("orderby") or "").split(","))):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request(f"orderBy: expected 'field asc' or 'field desc', got {part!r}")
        order.append((tuple(words[0].split("/")), len(words) == 2 and words[1].lower() == "desc"))
    fields = tuple(tuple(f.strip().split("/")) for f in (lowered.get("fields") or "").split(",") if f.strip())
    return ListQuery(
        conditions=lowered.get("conditions") or None,
        custom_field_conditions=lowered.get("customfieldconditions") or None,
        order_by=tuple(order),
        fields=fields,
        page=_int(lowered, "page", 1, 1),
        page_size=_int(lowered, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        forward_only=headers.get("pagination-type", "").lower() == "forward-only",
        page_id=_int(lowered, "pageId", 0, 0),
    )


def _canonical(collection: Collection, path: tuple[str, ...], what: str) -> tuple[str, ...]:
    found = collection.canonical(path)
    if found is None and collection.by_id:
        raise bad_request(f"{what}: unknown field {'/'.join(path)} on {collection.name}")
    return found or path


def _canonical_tree(collection: Collection, tree: Any) -> Any:
    if isinstance(tree, Compare):
        return Compare(_canonical(collection, tree.path, "conditions"), tree.op, tree.value)
    if isinstance(tree, Not):
        return Not(_canonical_tree(collection, tree.operand))
    return BoolOp(tree.op, _canonical_tree(collection, tree.left), _canonical_tree(collection, tree.right))


def _tree(text: str, what: str, collection: Collection | None) -> Any:
    try:
        tree = parse(text)
    except ConditionError as exc:
        raise bad_request(f"{what}: {exc}") from None
    return _canonical_tree(collection, tree) if collection is not None else tree


def _narrow(collection: Collection, tree: Any) -> list[int] | None:
    """Ids that can match, from an index, when the conditions pin an indexed field
    with = or in at the top level; None means scan everything."""
    if isinstance(tree, BoolOp) and tree.op == "and":
        return _narrow(collection, tree.left) or _narrow(collection, tree.right)
    if not isinstance(tree, Compare) or tree.op not in ("=", "in") or tree.path not in collection.indexes:
        return None
    values = tree.value if tree.op == "in" else (tree.value,)
    sample = lookup(collection.by_id[collection.ids[0]], tree.path) if collection.ids else None
    if any(v is None or isinstance(v, str) != isinstance(sample, str) for v in values):
        return None  # the predicate coerces across types; the index cannot
    found: set[int] = set()
    for value in values:
        found.update(collection.lookup(tree.path, value) or ())
    return sorted(found)


def _sort_key(path: tuple[str, ...]):
    def key(record: Record) -> tuple:
        value = lookup(record, path)
        # None first ascending (as SQL Server orders NULL), strings without case.
        return (value is not None, value.casefold() if isinstance(value, str) else value)

    return key


def select(collection: Collection, query: ListQuery) -> list[Record]:
    """The records matching the query, in order; computed once per collection version."""

    def compute() -> list[Record]:
        try:
            if query.conditions:
                tree = _tree(query.conditions, "conditions", collection)
                keep = compile_tree(tree, lookup)
                narrowed = _narrow(collection, tree)
                candidates = collection.all() if narrowed is None else [collection.by_id[i] for i in narrowed]
                rows = [row for row in candidates if keep(row)]
            else:
                rows = collection.all()  # in id order
            if query.custom_field_conditions:
                keep_cf = compile_tree(_tree(query.custom_field_conditions, "customFieldConditions", None), lookup)
                rows = [row for row in rows if match_custom_fields(keep_cf, row.get("customFields"))]
            for path, descending in reversed(query.order_by):
                rows = sorted(rows, key=_sort_key(_canonical(collection, path, "orderBy")), reverse=descending)
        except ConditionError as exc:
            raise bad_request(f"conditions: {exc}") from None
        except TypeError:
            raise bad_request("orderBy: a field holds values that cannot be ordered") from None
        return rows

    key = (query.conditions, query.custom_field_conditions, query.order_by)
    return collection.cached(key, compute)


@dataclass(frozen=True)
class Page:
    rows: list[Record]
    links: dict[str, dict[str, Any]]  # rel -> query parameters to set


def cut_page(rows: list[Record], query: ListQuery) -> Page:
    if query.forward_only:
        if any(tuple(p.lower() for p in path) != ("id",) or desc for path, desc in query.order_by):
            raise bad_request("orderBy: forward-only paging orders by id only")
        start = bisect_right(rows, query.page_id, key=lambda row: row["id"])
        chunk = rows[start : start + query.page_size]
        links = {}
        if chunk and start + len(chunk) < len(rows):
            links["next"] = {"pageId": chunk[-1]["id"], "pageSize": query.page_size}
        return Page(chunk, links)
    start = (query.page - 1) * query.page_size
    last = max(1, -(-len(rows) // query.page_size))
    links = {}
    if query.page > 1:
        links["first"] = {"page": 1, "pageSize": query.page_size}
        links["prev"] = {"page": min(query.page - 1, last), "pageSize": query.page_size}
    if query.page < last:
        links["next"] = {"page": query.page + 1, "pageSize": query.page_size}
        links["last"] = {"page": last, "pageSize": query.page_size}
    return Page(rows[start : start + query.page_size], links)


def link_header(base_url: str, params: Mapping[str, str], links: Mapping[str, Mapping[str, Any]]) -> str:
    """ConnectWise's Link header: `<url>; rel="next", <url>; rel="last"`. The other
    query parameters (conditions, orderBy, fields) are carried into every link, and the
    page (or pageId) comes last, as ConnectWise writes it: clients read the page number
    from `page=N>` (pyconnectwise's paging does, and stops after page 1 otherwise)."""
    parts = []
    for rel in ("first", "prev", "next", "last"):
        if rel not in links:
            continue
        changed = {k.lower() for k in links[rel]}
        kept = [(k, v) for k, v in params.items() if k.lower() not in changed | {"page", "pageid"}]
        ordered = sorted(links[rel].items(), key=lambda item: item[0].lower() in ("page", "pageid"))
        query = urlencode(kept + [(k, str(v)) for k, v in ordered])
        parts.append(f'<{base_url}?{query}>; rel="{rel}"')
    return ", ".join(parts)


def project(record: Record, fields: tuple[tuple[str, ...], ...]) -> Record:
    """A partial response: only the requested paths, nested as in the record."""
    if not fields:
        return record
    out: Record = {}
    for path in fields:
        target = out
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = lookup(record, path)
    return out


def canonical_fields(collection: Collection, fields: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(_canonical(collection, f, "fields") for f in fields)


__all__ = [
    "ListQuery",
    "parse_list_query",
    "select",
    "cut_page",
    "link_header",
    "project",
    "canonical_fields",
    "CwError",
    "MAX_PAGE_SIZE",
]
