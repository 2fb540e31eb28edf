"""The records a batch of callbacks names, fetched through the normal ingest path.

A callback is a hint: the records are read from ConnectWise (`id in (...)`, up to
200 ids a call, a page holds them all), and each goes through the same change
detection and events as a cycle (`emit_records`, trigger CALLBACK), so a record
that did not change emits nothing. What ConnectWise no longer returns, that ingest
emitted before, is emitted as DELETED. An Invoice callback also covers the money
listed under the invoice (payments, credit memos applied, refunds): it is read
when the invoice's own totals of it differ from what ingest emitted, since
ConnectWise lists money one invoice per call.

Calls for a burst of N invoice callbacks: N/200 for the invoices, N/200 for their
lines, plus one per invoice whose money moved. A purchase order's lines take one
call per order (as in a cycle; ConnectWise has no bulk read of them), made only
for orders ConnectWise touched since ingest last emitted them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from ..common.record_kinds import RecordKind
from ..integrations.connectwise.client import in_
from .cycle import CycleResult, Pipeline, emit_deleted, emit_records
from .callback_store import CallbackStore
from .payments import emit_payments_page, kind_of
from .poller import RecordError, last_updated
from .sources import source_for

log = logging.getLogger(__name__)
ID_CHUNK = 200  # ids per `id in (...)`: keeps the URL short, as the product lines read does


@dataclass(frozen=True)
class Endpoint:
    path: str
    record_types: tuple[str, ...]  # what a record read there can be
    money: bool  # money is listed under these records


ENDPOINTS = {  # by normalised callback type (services/common/receiver_urls.py)
    "invoice": Endpoint(RecordKind.INVOICE.cw_route, (RecordKind.INVOICE.value, RecordKind.CREDIT_NOTE.value), True),
    "purchaseorder": Endpoint(RecordKind.PROCUREMENT.cw_route, (RecordKind.PROCUREMENT.value,), False),
}


def money_moved(invoice: dict, emitted: Decimal) -> bool:
    """Pure: whether the money listed under this invoice may differ from what ingest emitted.
    ConnectWise keeps the totals on the invoice (`payments` and `credits`; a credit memo's
    `payments` is minus its refunds). Equal totals can hide a changed date or a swap of equal
    amounts; the next payment cycle reads those."""

    def amount(name: str) -> Decimal:
        return Decimal(str(invoice.get(name) or 0))

    listed = -amount("payments") if kind_of(invoice) is RecordKind.REFUND else amount("payments") + amount("credits")
    return listed != emitted


def _touched(records: list[dict], record_type: str, seen: dict) -> list[dict]:
    """Records ConnectWise changed since ingest last emitted them (a replayed or duplicate
    callback for an untouched record costs no further call)."""
    kept = []
    for record in records:
        try:
            known = seen.get((record_type, str(record["id"])), None)
            if known is not None and last_updated(record) == known:
                continue
        except RecordError:
            pass  # emit_records reports it
        kept.append(record)
    return kept


def fetch_hinted(p: Pipeline, store: CallbackStore, cw_type: str, ids: list[int]) -> list[CycleResult]:
    """Reads the hinted records of one callback type and emits what changed; one result per record type."""
    endpoint = ENDPOINTS[cw_type]
    results = {t: CycleResult(t, "CALLBACK") for t in endpoint.record_types}
    found: dict[int, dict] = {}
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        for record in p.client.all(
            endpoint.path, conditions=in_("id", chunk), tags={"record_type": endpoint.record_types[0]}
        ):
            found[int(record["id"])] = record
    seen = store.last_seen(endpoint.record_types, list(found))
    for record_type in endpoint.record_types:
        source, result = source_for(record_type), results[record_type]
        records = [r for r in found.values() if source.type_of(r) == record_type]
        result.seen = len(records)
        emit_records(p, _touched(records, record_type, seen), "CALLBACK", False, result, source=source)
    money = _emit_money(p, store, list(found.values())) if endpoint.money else []
    missing = [i for i in ids if i not in found]
    for record_type in endpoint.record_types:
        gone = store.live(record_type, missing)
        if gone:
            log.info("%d %s records hinted by callbacks are gone from ConnectWise", len(gone), record_type)
            emit_deleted(p, source_for(record_type), gone, "CALLBACK", results[record_type])
    return [*results.values(), *money]


def _emit_money(p: Pipeline, store: CallbackStore, invoices: list[dict]) -> list[CycleResult]:
    results = []
    for kind in (RecordKind.PAYMENT, RecordKind.REFUND):
        mine = [inv for inv in invoices if kind_of(inv) is kind]
        emitted = store.money_emitted(kind.value, [int(inv["id"]) for inv in mine])
        moved = [inv for inv in mine if money_moved(inv, emitted.get(int(inv["id"]), Decimal(0)))]
        result = CycleResult(kind.value, "CALLBACK", seen=len(moved))
        if moved:
            emit_payments_page(p, moved, "CALLBACK", False, result, kind=kind)
        results.append(result)
    return results
