"""The check after each payment cycle: once ingest finishes an organisation's
Xero payments cycle (which also reads its invoices' amounts due), the matcher
reads the ConnectWise balances that changed since last time, compares every
synced invoice, sets `cz_open_balance_difference{organisation}` and raises one
`open_balance_difference` exception per difference that outlives a full cycle
(a difference seen by two checks in a row: one cycle is the time a payment
takes to be matched)."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

from prometheus_client import Gauge

from ..common.codec import Codec
from ..common.database import Database
from ..common.topics import SYNC_EXCEPTIONS
from ..integrations.connectwise.client import CwClient, cond
from ..common.open_balances import InvoiceBalance, balance_rows, differing, organisation_total
from . import balance_store as store
from .ledger import resolve_settled

log = logging.getLogger(__name__)
KIND = "open_balance_difference"
OVERLAP = timedelta(minutes=10)  # ConnectWise's lastUpdated is to the second, and clocks step
FIELDS = "id,invoiceNumber,type,status,company,balance,total,_info"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DIFFERENCE = Gauge(
    "cz_open_balance_difference", "Sum of open-balance differences between ConnectWise and Xero", ["organisation"]
)
DIFFERENCES = Gauge("cz_open_balance_differences", "Synced invoices whose balances differ", ["organisation"])


def cw_balance_row(record: dict) -> dict:
    company, status = record.get("company") or {}, record.get("status")
    return {
        "id": int(record["id"]),
        "number": record.get("invoiceNumber"),
        "company_identifier": company.get("identifier"),
        "company_name": company.get("name"),
        "status": status.get("name") if isinstance(status, dict) else status,
        "total": record.get("total"),
        "balance": record.get("balance") or 0,
        "last_updated": _cw_time((record.get("_info") or {}).get("lastUpdated")),
    }


def _cw_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def difference_event(row: InvoiceBalance, first_seen: datetime) -> dict:
    message = (
        f"ConnectWise invoice {row.number} shows a balance of {row.cw_balance:,.2f} but Xero's amount due is "
        f"{row.xero_amount_due:,.2f} (a difference of {row.difference:,.2f}) since "
        f"{first_seen:%Y-%m-%d %H:%M} UTC, through a full payment cycle. Likely cause: {row.cause}."
    )
    return {
        "exception_id": str(uuid.uuid4()),
        "kind": KIND,
        "record_type": "invoice",
        "record_id": str(row.cw_invoice_id),
        "organisation_id": row.organisation_id,
        "customer": row.customer,
        "message": message,
        "audit_entry_id": None,
        "raised_at": datetime.now(timezone.utc),
        "details": {
            "cw_balance": f"{row.cw_balance:.2f}",
            "xero_amount_due": f"{row.xero_amount_due:.2f}",
            "difference": f"{row.difference:.2f}",
            "cause": row.cause or "",
            "xero_invoice_id": row.xero_invoice_id,
            "invoice_number": row.number,
        },
    }


class BalanceCheck:
    def __init__(
        self,
        db: Database,
        client: CwClient,
        codec: Codec,
        producer,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.db, self.client, self.codec, self.producer, self.clock = db, client, codec, producer, clock

    def due(self) -> dict[str, datetime]:
        """Organisations whose payment cycle finished after their last check."""
        with self.db.connection() as conn:
            finished, checked = store.finished_cycles(conn), store.last_checks(conn)
        return {
            org: at
            for org, at in finished.items()
            if org not in checked or checked[org]["cycle_finished_at"] is None or checked[org]["cycle_finished_at"] < at
        }

    def run_due(self) -> list[str]:
        due = self.due()
        if due:
            self.refresh_connectwise()
        for organisation_id, finished_at in sorted(due.items()):
            self.check(organisation_id, finished_at)
        return sorted(due)

    def refresh_connectwise(self) -> int:
        """Reads the ConnectWise invoices changed since the last refresh (all of them the first time)."""
        with self.db.connection() as conn:
            cursor = store.cw_cursor(conn) or EPOCH
            since = cond("lastUpdated", ">", max(cursor - OVERLAP, EPOCH))
            read = 0
            for page in self.client.pages(
                "finance/invoices", conditions=since, fields=FIELDS, tags={"record_type": "invoice"}
            ):
                rows = [cw_balance_row(r) for r in page if r.get("type") != "CreditMemo"]
                newest = max((r["last_updated"] for r in rows if r["last_updated"]), default=None)
                store.save_cw_balances(conn, rows, newest)
                read += len(rows)
        return read

    def check(self, organisation_id: str, cycle_finished_at: datetime | None = None) -> list[InvoiceBalance]:
        with self.db.connection() as conn:
            rows = balance_rows(conn, organisation_id)
            found = differing(rows)
            total = organisation_total(rows)
            raise_now = store.record_check(
                conn, organisation_id, found, self.clock(), cycle_finished_at, len(rows), total
            )
        DIFFERENCE.labels(organisation=organisation_id).set(float(total))  # a gauge takes a float; money stays Decimal
        DIFFERENCES.labels(organisation=organisation_id).set(len(found))
        by_id = {r.cw_invoice_id: r for r in found}
        for due in raise_now:
            row = by_id[due["cw_invoice_id"]]
            self.producer.produce(
                SYNC_EXCEPTIONS.name,
                key=f"invoice:{row.cw_invoice_id}".encode(),
                value=self.codec.encode("sync_exception", difference_event(row, due["first_seen"])),
            )
        self.producer.flush(30)
        log.info(
            "balance check of %s: %d invoices, %d differ (%s in all), %d raised",
            organisation_id,
            len(rows),
            len(found),
            total,
            len(raise_now),
        )
        return found

    def run(self, stop: threading.Event, every: float = 5.0) -> None:
        while not stop.is_set():
            try:
                if self.run_due():
                    with self.db.connection() as conn:
                        resolved = resolve_settled(conn)
                    if resolved:
                        log.info("%d exceptions of payments settled since resolved", resolved)
            except Exception:  # ConnectWise or Postgres away: the check runs when they are back
                log.exception("balance check failed; tried again shortly")
            stop.wait(every)
