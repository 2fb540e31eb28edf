"""Every Kafka topic of the product, declared once and created at start-up.

Tansu auto-creates an unknown topic with its own partition count, which breaks
Faust's co-partitioning, so nothing may rely on auto-creation: the supervisor
calls `ensure_topics` before any service starts.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str  # what the record key means
    schema: str  # Avro schema name in schemas/ (without .avsc)
    retention_ms: int = 7 * DAY_MS
    compact: bool = False
    dead_letter: bool = True  # consumers of this topic park poison messages in <name>.dlq

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def config(self) -> dict[str, str]:
        return {
            "cleanup.policy": "compact" if self.compact else "delete",
            "retention.ms": str(self.retention_ms),
        }


PARTITIONS = 3

CW_INVOICES = Topic("cw.invoices.v1", PARTITIONS, "ConnectWise invoice id", "cw_invoice_changed")
CW_CREDIT_NOTES = Topic(
    "cw.credit_notes.v1", PARTITIONS, "ConnectWise invoice id of the credit memo", "cw_invoice_changed"
)
CW_PROCUREMENTS = Topic("cw.procurements.v1", PARTITIONS, "ConnectWise purchase order id", "cw_purchase_order_changed")
CW_PAYMENTS = Topic("cw.payments.v1", PARTITIONS, "ConnectWise payment id", "cw_payment_changed")
CW_REFUNDS = Topic("cw.refunds.v1", PARTITIONS, "ConnectWise payment id of the refund", "cw_payment_changed")
XERO_PAYMENTS = Topic("xero.payments.v1", PARTITIONS, "Xero PaymentID", "xero_payment_received")
SYNC_COMMANDS = Topic("sync.commands.v1", 1, "record type", "sync_command")
XERO_WRITES = Topic(
    "xero.writes.v1", PARTITIONS, "organisation id (keeps one org's writes in order)", "xero_write_request"
)
XERO_WRITE_RESULTS = Topic("xero.write_results.v1", PARTITIONS, "record type and ConnectWise id", "xero_write_result")
SYNC_EXCEPTIONS = Topic("sync.exceptions.v1", PARTITIONS, "record type and record id", "sync_exception")
API_EXCHANGES = Topic(
    "api.exchanges.v1", PARTITIONS, "API name (connectwise or xero)", "api_exchange", retention_ms=2 * DAY_MS
)
CONFIG_CHANGES = Topic("config.changes.v1", 1, "table changed", "config_change")
# Hints from the receivers: a day is plenty, a missed one is caught by the next cycle anyway.
CW_CALLBACKS = Topic(
    "cw.callbacks.v1", PARTITIONS, "ConnectWise callback type and record id", "cw_callback", retention_ms=DAY_MS
)
XERO_WEBHOOKS = Topic(
    "xero.webhooks.v1", PARTITIONS, "Xero tenant id and resource id", "xero_webhook_event", retention_ms=DAY_MS
)
XERO_DOCUMENT_STATES = Topic(
    "xero.document_states.v1", PARTITIONS, "record type and ConnectWise id", "xero_document_state"
)

ALL_TOPICS: tuple[Topic, ...] = (
    CW_INVOICES,
    CW_CREDIT_NOTES,
    CW_PROCUREMENTS,
    CW_PAYMENTS,
    CW_REFUNDS,
    XERO_PAYMENTS,
    SYNC_COMMANDS,
    XERO_WRITES,
    XERO_WRITE_RESULTS,
    SYNC_EXCEPTIONS,
    API_EXCHANGES,
    CONFIG_CHANGES,
    CW_CALLBACKS,
    XERO_WEBHOOKS,
    XERO_DOCUMENT_STATES,
)

BY_NAME = {t.name: t for t in ALL_TOPICS}


def all_topic_names(with_dlq: bool = True) -> list[str]:
    names = [t.name for t in ALL_TOPICS]
    if with_dlq:
        names += [t.dlq for t in ALL_TOPICS if t.dead_letter]
    return names


def topic_specs() -> list[tuple[str, int, dict[str, str]]]:
    """(name, partitions, config) for each topic and dead-letter topic."""
    specs = [(t.name, t.partitions, t.config()) for t in ALL_TOPICS]
    specs += [
        (t.dlq, 1, {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}) for t in ALL_TOPICS if t.dead_letter
    ]
    return specs
