"""The Xero payments poll: for each connected organisation, on the `xero_payment`
cadence (or when asked), the payments, overpayments and prepayments changed
since its cursor become `xero.payments.v1` events, and the open balances of its
sales invoices are kept for the balance check.

- `If-Modified-Since` is the cursor less a small overlap, and the cursor moves to
  Xero's own clock at the start of the cycle (`DateTimeUTC` of its first answer):
  whatever changes while the cycle reads is read again next time, never lost,
  and the cursor never depends on this machine's clock.
- Pages are ordered by id, which an update does not move, so a record changed
  mid-cycle cannot shift another out of the page being read.
- Events are produced, flushed, and only then recorded in `sync_records` (the
  content hash makes a re-read emit nothing); the cursor moves last. A crash
  anywhere re-reads the window (at least once; the matcher's ledger dedupes).
- Calls go through the organisation's `XeroClient` pacing, and count in
  `api_usage` with the writer's, so the day budget is shared.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterator

from ..common.record_kinds import RecordKind
from ..integrations.xero.client import XeroClient, XeroOrg, XeroRequestError
from .cycle import Emitter
from .metrics import CYCLE_SECONDS, CYCLES, LAST_SUCCESS
from .scheduler import is_due
from .poller import EPOCH
from .xero_payment_events import (
    CREDIT_KINDS,
    XeroRecordError,
    credit_events,
    event_hash,
    invoice_balance,
    payment_event,
    updated_at,
    xero_time,
)
from .xero_payment_store import XeroPaymentStore

log = logging.getLogger(__name__)
RECORD_TYPE = RecordKind.XERO_PAYMENT.value
OVERLAP = timedelta(minutes=2)  # Xero compares If-Modified-Since to the second; a little more covers clock steps
PAGE_SIZE = 1000  # the most Xero returns a page
PAYMENTS, INVOICES = RecordKind.XERO_PAYMENT.xero, RecordKind.INVOICE.xero
MONEY = (PAYMENTS.endpoint, *CREDIT_KINDS)  # payments first, then overpayments and prepayments
# The id each collection's pages are ordered by.
ORDER = {
    PAYMENTS.endpoint: PAYMENTS.id_field,
    **{collection: id_field for collection, (_, id_field) in CREDIT_KINDS.items()},
    INVOICES.endpoint: INVOICES.id_field,
}


@dataclass
class XeroCycleResult:
    organisation_id: str
    trigger: str
    seen: int = 0
    emitted: int = 0
    failed: int = 0
    invoices: int = 0
    skipped: bool = False
    cursor_to: datetime | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class XeroPayments:
    def __init__(
        self,
        client: XeroClient,
        store: XeroPaymentStore,
        emitter: Emitter,
        clock: Callable[[], datetime] = _utcnow,
        overlap: timedelta = OVERLAP,
        page_size: int = PAGE_SIZE,
    ):
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size: must be 1 to {PAGE_SIZE}, got {page_size}")
        self.client, self.store, self.emitter, self.clock, self.overlap = client, store, emitter, clock, overlap
        self.page_size = page_size

    # --- scheduling ----------------------------------------------------------------------

    def tick(self, cadence: timedelta, retry_failed: timedelta, stop: threading.Event | None = None) -> list:
        results = []
        for org in self.store.organisations():
            if stop is not None and stop.is_set():
                break
            if not is_due(self.store.cursor(org.organisation_id), cadence, self.clock(), retry_failed):
                continue
            try:
                results.append(self.run_cycle(org))
            except Exception:  # one organisation's failure (a revoked credential) must not stop the others
                log.exception("Xero payments cycle for %s failed; it resumes from its cursor", org.organisation_id)
        return results

    def request_cycle(self) -> None:
        self.store.request_cycle([org.organisation_id for org in self.store.organisations()])

    # --- one organisation ----------------------------------------------------------------

    def run_cycle(self, org: XeroOrg, trigger: str = "SCHEDULE") -> XeroCycleResult:
        result = XeroCycleResult(org.organisation_id, trigger)
        if not self.store.try_lock(org.organisation_id):
            result.skipped = True
            CYCLES.labels(record_type=RECORD_TYPE, outcome="skipped").inc()
            return result
        t0 = time.perf_counter()
        try:
            cursor = self.store.cursor(org.organisation_id)
            self.store.cycle_started(org.organisation_id, self.clock())
            since = None if cursor.cursor_at <= EPOCH else cursor.cursor_at - self.overlap
            try:
                xero_now = self._read(org, since, trigger, result)
            except BaseException:
                CYCLES.labels(record_type=RECORD_TYPE, outcome="failed").inc()
                self.store.cycle_finished(org.organisation_id, self.clock(), "failed", None)
                raise
            self.store.cycle_finished(org.organisation_id, self.clock(), "ok", xero_now)
            result.cursor_to = xero_now
            CYCLES.labels(record_type=RECORD_TYPE, outcome="ok").inc()
            LAST_SUCCESS.labels(record_type=RECORD_TYPE).set_to_current_time()
        finally:
            self.store.unlock(org.organisation_id)
            CYCLE_SECONDS.labels(record_type=RECORD_TYPE).observe(time.perf_counter() - t0)
        log.info(
            "Xero payments cycle %s (%s): %d seen, %d emitted, %d invoices, %d failed",
            org.organisation_id,
            trigger,
            result.seen,
            result.emitted,
            result.invoices,
            result.failed,
        )
        return result

    def _read(self, org: XeroOrg, since: datetime | None, trigger: str, result: XeroCycleResult) -> datetime | None:
        """Reads and emits every collection changed since `since`; returns Xero's time at the start."""
        first: datetime | None = None
        for collection in MONEY:
            for page, xero_now in self._pages(org, collection, since):
                first = first or xero_now
                events = []
                for record in page:
                    try:
                        events += self._events(org, collection, record, trigger)
                    except XeroRecordError as exc:
                        log.error("cannot convert Xero %s of %s: %s", collection, org.organisation_id, exc)
                        result.failed += 1
                result.seen += len(page)
                self._emit(events, False, result)
        for page, _ in self._pages(org, INVOICES.endpoint, since, where='Type=="ACCREC"'):
            rows = [row for row in map(invoice_balance, page) if row is not None]
            self.store.save_invoice_balances(org.organisation_id, rows)
            result.invoices += len(rows)
        return first

    def _events(self, org: XeroOrg, collection: str, record: dict, trigger: str) -> list[dict]:
        pair = (org.organisation_id, org.tenant_id)
        observed = self.clock()
        if collection == PAYMENTS.endpoint:
            return [payment_event(pair, record, trigger, observed)]
        return credit_events(pair, collection, record, trigger, observed)

    def _emit(self, events: list[dict], force: bool, result: XeroCycleResult) -> None:
        if not events:
            return
        hashed = [(e, event_hash(e)) for e in events]
        known = {} if force else self.store.hashes([e["payment_id"] for e in events])
        changed = [(e, h) for e, h in hashed if force or known.get(e["payment_id"]) != h]
        if not changed:
            return
        # The shared emitter keys by `cw_id` and counts by `change`; Avro ignores both extra fields.
        self.emitter.emit(
            RECORD_TYPE,
            [
                {
                    **e,
                    "cw_id": e["payment_id"],
                    "change": "DELETED" if e["status"] in ("DELETED", "VOIDED") else "UPSERT",
                }
                for e, _ in changed
            ],
        )
        self.store.record_emitted(changed, min(e["observed_at"] for e, _ in changed))
        result.emitted += len(changed)

    def _pages(
        self, org: XeroOrg, collection: str, since: datetime | None, where: str | None = None
    ) -> Iterator[tuple[list[dict], datetime | None]]:
        page = 1
        while True:
            params = {"page": str(page), "pageSize": str(self.page_size), "order": f"{ORDER[collection]} ASC"}
            if where:
                params.update(where=where, summaryOnly="true")
            body = self._get(org, collection, params, since) or {}  # None only for one record's path
            items = body.get(collection) or []
            stamp = body.get("DateTimeUTC")
            yield items, xero_time(stamp, "DateTimeUTC") if stamp else None
            if len(items) < self.page_size:
                return
            page += 1

    def _get(self, org: XeroOrg, path: str, params: dict | None = None, since: datetime | None = None) -> dict | None:
        # Xero compares If-Modified-Since to the second, in UTC.
        headers = {"If-Modified-Since": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")} if since else None
        resp = self.client.request(org, "GET", path, params=params, tags={"record_type": RECORD_TYPE}, headers=headers)
        if resp.status_code == 404 and "/" in path:
            return None
        body = json.loads(resp.content, parse_float=Decimal) if resp.content else {}
        if resp.status_code != 200:
            raise XeroRequestError(resp.status_code, str(body.get("Message") or body.get("Detail") or resp.text[:300]))
        return body

    # --- commands ------------------------------------------------------------------------

    def force_sync(self, payment_id: str) -> int:
        """Reads one payment (or overpayment, prepayment, allocation) now and emits it whatever its hash."""
        known = self.store.known(payment_id)
        orgs = [o for o in self.store.organisations() if known is None or o.organisation_id == known["organisation_id"]]
        parent = ((known or {}).get("snapshot") or {}).get("parent_id")
        for org in orgs:
            # An allocation is read through its overpayment or prepayment; asked for one of those,
            # its allocations come too.
            events = [
                e
                for e in self._fetch(org, parent or payment_id)
                if e["payment_id"] == payment_id or e["parent_id"] == payment_id
            ]
            if events:
                result = XeroCycleResult(org.organisation_id, "FORCE_SYNC")
                self._emit(events, True, result)
                return result.emitted
        raise LookupError(f"Xero payment {payment_id}: no connected organisation has it")

    def _fetch(self, org: XeroOrg, xero_id: str) -> list[dict]:
        for collection in MONEY:
            body = self._get(org, f"{collection}/{xero_id}")
            if body and body.get(collection):
                return self._events(org, collection, body[collection][0], "FORCE_SYNC")
        return []

    def replay(self, start: datetime, end: datetime) -> int:
        """Re-emits every payment of every organisation last changed within [start, end]."""
        emitted = 0
        for org in self.store.organisations():
            result = XeroCycleResult(org.organisation_id, "REPLAY")
            self._read_window(org, start, end, result)
            emitted += result.emitted
        return emitted

    def _read_window(self, org: XeroOrg, start: datetime, end: datetime, result: XeroCycleResult) -> None:
        for collection in MONEY:
            for page, _ in self._pages(org, collection, start - timedelta(seconds=1)):
                events = [e for r in page if updated_at(r) <= end for e in self._events(org, collection, r, "REPLAY")]
                result.seen += len(page)
                self._emit(events, True, result)
