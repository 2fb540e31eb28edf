"""What ingest polls in ConnectWise, one `Source` per record type: the list
endpoint and filter, how a record's lines are fetched (in bulk where the API
allows), and the pure conversions into its Avro event. The cycle is written
once against this."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable

from ..common.record_kinds import RecordKind
from ..integrations.connectwise.client import CwClient
from .event_frame import Gone
from .invoices import deleted_event, record_type_of, snapshot_of, to_invoice_event, type_condition
from . import payments
from .purchase_orders import deleted_po_event, po_snapshot_of, to_purchase_order_event

LINE_ITEM_WORKERS = 4  # purchase-order lines come one order per call; a few at a time, as CW asks


@dataclass(frozen=True)
class Source:
    record_type: str
    path: str
    condition: str | None  # what selects this type on the list endpoint
    children: Callable[[CwClient, list[dict], str], dict[int, list[dict]]]  # lines by record id
    to_event: Callable[..., dict]  # (record, its lines, Reading, extra refs); money's takes its invoice
    snapshot_of: Callable[[dict], dict]
    deleted_event: Callable[[Gone], dict]
    type_of: Callable[[dict], str]  # a fetched record's real type (an id may be asked for as the wrong one)
    company_ref: str
    number_field: str
    customer_fields: tuple[str, str]
    look_up_managers: bool
    # A source whose events are not the listed records themselves (payments, read
    # through their invoices) handles each page, and its deletions, itself.
    page_handler: Callable | None = None

    def fetch(self, client: CwClient, record_id: int | str) -> dict:
        return client.get(
            f"{self.path}/{int(record_id)}", tags={"record_type": self.record_type, "record_id": record_id}
        )

    def number(self, event: dict) -> str:
        return str(event.get(self.number_field) or "")

    def customer(self, event: dict) -> str:
        name, identifier = self.customer_fields
        return event.get(name) or event.get(identifier) or ""


def customer_of(record: dict, ref_name: str) -> str | None:
    """The customer (or vendor) a record concerns, for the audit log's customer filter."""
    ref = record.get(ref_name)
    return (ref.get("name") or ref.get("identifier")) if isinstance(ref, dict) else None


def _invoice_products(client: CwClient, records: list[dict], record_type: str) -> dict[int, list[dict]]:
    customer = customer_of(records[0], "company") if len(records) == 1 else None
    return client.products_for_invoices([int(r["id"]) for r in records], record_type=record_type, customer=customer)


def _po_line_items(client: CwClient, records: list[dict], record_type: str) -> dict[int, list[dict]]:
    def lines(po: dict) -> list[dict]:
        return list(
            client.all(
                f"{RecordKind.PROCUREMENT.cw_route}/{int(po['id'])}/lineitems",
                tags={"record_type": record_type, "record_id": po["id"], "customer": customer_of(po, "vendorCompany")},
            )
        )

    ids = [int(r["id"]) for r in records]
    if len(records) == 1:
        return {ids[0]: lines(records[0])}
    with ThreadPoolExecutor(LINE_ITEM_WORKERS) as pool:
        return dict(zip(ids, pool.map(lines, records), strict=True))


def _invoice_source(record_type: str) -> Source:
    return Source(
        record_type,
        RecordKind(record_type).cw_route,
        type_condition(record_type),
        _invoice_products,
        to_invoice_event,
        snapshot_of,
        partial(deleted_event, record_type),
        record_type_of,
        "company",
        "invoice_number",
        ("company_name", "company_identifier"),
        True,
    )


def _money_source(kind: RecordKind, condition: str | None) -> Source:
    """Money is read through the invoices it is listed under, which its page handler walks."""
    return Source(
        kind.value,
        RecordKind.INVOICE.cw_route,
        condition,
        lambda *_: {},
        payments.to_payment_event,
        payments.payment_snapshot_of,
        partial(payments.deleted_payment_event, kind=kind),
        lambda _inv: kind.value,
        "company",
        "invoice_number",
        ("company_identifier", "company_identifier"),
        False,
        page_handler=partial(payments.emit_payments_page, kind=kind),
    )


SOURCES: dict[str, Source] = {
    RecordKind.INVOICE: _invoice_source(RecordKind.INVOICE),
    RecordKind.CREDIT_NOTE: _invoice_source(RecordKind.CREDIT_NOTE),
    RecordKind.PROCUREMENT: Source(
        RecordKind.PROCUREMENT,
        RecordKind.PROCUREMENT.cw_route,
        None,
        _po_line_items,
        to_purchase_order_event,
        po_snapshot_of,
        deleted_po_event,
        lambda _po: RecordKind.PROCUREMENT.value,
        "vendorCompany",
        "po_number",
        ("vendor_company_name", "vendor_company_identifier"),
        False,
    ),
    RecordKind.PAYMENT: _money_source(RecordKind.PAYMENT, None),
    # Refunds are listed under credit memos only: the refund poll reads just those.
    RecordKind.REFUND: _money_source(RecordKind.REFUND, type_condition(RecordKind.CREDIT_NOTE)),
}
POLLED_TYPES = tuple(SOURCES)


def source_for(record_type: str) -> Source:
    if record_type not in SOURCES:
        raise ValueError(f"record_type: {record_type!r} has no ConnectWise poll ({', '.join(SOURCES)})")
    return SOURCES[record_type]
