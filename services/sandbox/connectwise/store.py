"""One resource's records, kept by id with the ids in a sorted list, so a page
is a slice and forward-only paging is a bisect (never a scan per page).

Records are replaced, never edited in place, so a list result computed for one
version of the collection can be served page by page while the version holds.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from typing import Any, Callable, Iterator

Record = dict[str, Any]


def _paths(record: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in record.items():
        path = prefix + (key,)
        yield path
        if isinstance(value, dict):
            yield from _paths(value, path)


def _get(record: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        record = record.get(part) if isinstance(record, dict) else None
    return record


def _key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class Collection:
    """Records of one resource. Not thread-safe by itself: the state's lock guards it."""

    def __init__(
        self,
        name: str,
        aliases: dict[tuple[str, ...], tuple[str, ...]] | None = None,
        indexed: tuple[tuple[str, ...], ...] = (),
    ):
        self.name = name
        # path -> value (case-folded when text) -> ids; lets `field = value` skip the scan
        self.indexes: dict[tuple[str, ...], dict[Any, set[int]]] = {path: {} for path in indexed}
        self.by_id: dict[int, Record] = {}
        self.ids: list[int] = []
        self.version = 0
        # lower-cased path -> path as the API spells it; field names are matched without case
        self.paths: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.aliases = aliases or {}
        self._cache: OrderedDict[tuple, list[Record]] = OrderedDict()
        # id -> (record, its JSON): a page of full records is joined from these
        self._json: dict[int, tuple[Record, bytes]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, record_id: int) -> Record | None:
        return self.by_id.get(record_id)

    def put(self, record: Record) -> None:
        rid = record["id"]
        old = self.by_id.get(rid)
        if old is not None:
            self._unindex(old)
        else:
            if self.ids and rid > self.ids[-1]:
                self.ids.append(rid)
            else:
                insort(self.ids, rid)
        self.by_id[rid] = record
        for path, index in self.indexes.items():
            index.setdefault(_key(_get(record, path)), set()).add(rid)
        self._learn(record)
        self._changed()

    def remove(self, record_id: int) -> Record | None:
        record = self.by_id.pop(record_id, None)
        if record is not None:
            self._json.pop(record_id, None)
            self._unindex(record)
            self.ids.pop(bisect_left(self.ids, record_id))
            self._changed()
        return record

    def lookup(self, path: tuple[str, ...], value: Any) -> list[int] | None:
        """Ids whose `path` equals `value` (sorted), or None when the path is not indexed."""
        index = self.indexes.get(path)
        if index is None:
            return None
        return sorted(index.get(_key(value), ()))

    def _unindex(self, record: Record) -> None:
        for path, index in self.indexes.items():
            ids = index.get(_key(_get(record, path)))
            if ids is not None:
                ids.discard(record["id"])

    def all(self) -> list[Record]:
        return [self.by_id[i] for i in self.ids]

    def json_of(self, record: Record, render: Callable[[Record], bytes]) -> bytes:
        """The record's JSON, rendered once per version of the record."""
        hit = self._json.get(record["id"])
        if hit is None or hit[0] is not record:
            hit = (record, render(record))
            self._json[record["id"]] = hit
        return hit[1]

    def canonical(self, path: tuple[str, ...]) -> tuple[str, ...] | None:
        lowered = tuple(p.lower() for p in path)
        return self.aliases.get(lowered) or self.paths.get(lowered)

    def cached(self, key: tuple, compute: Callable[[], list[Record]]) -> list[Record]:
        """A list result for this version of the collection, computed once."""
        full = (self.version,) + key
        hit = self._cache.get(full)
        if hit is None:
            hit = compute()
            self._cache[full] = hit
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return hit

    def _learn(self, record: Record) -> None:
        if len(self.paths) and len(self.by_id) > 64:
            # Records of one resource share a shape; learning from the first few is
            # enough, and skipping the walk keeps bulk loads fast.
            return
        for path in _paths(record):
            self.paths.setdefault(tuple(p.lower() for p in path), path)

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()
