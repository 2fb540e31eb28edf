"""The matcher's Kafka side: `xero.payments.v1` messages translated into one call
of the engine per batch, its exceptions published on `sync.exceptions.v1`.

What cannot be read is poison (dead-letter topic). Everything else is the one
error policy's (`common/consumer_policy.py`, which `app.py` runs this under):
ConnectWise or Postgres out of reach is an outage (nothing committed, the batch
comes again, the ledger makes that harmless); any other failure is tried one
payment at a time and the one that still fails is dead-lettered.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from confluent_kafka import Message
from prometheus_client import Counter

from ..common.codec import Codec, FramingError
from ..common.kafka import Poison, message_context
from ..common.metrics import MESSAGES, POISON
from ..common.record_kinds import RecordKind
from ..common.topics import SYNC_EXCEPTIONS
from .engine import Matcher
from .ports import Outcome
from .xero_money import BadEvent, from_event

log = logging.getLogger(__name__)
SERVICE = "matcher"
DECIDED = Counter("cz_matcher_payments_total", "Xero payments decided by the matcher, by outcome", ["outcome"])


def exception_event(outcome: Outcome) -> dict:
    money, invoice, raised = outcome.money, outcome.target, outcome.exception
    if raised is None:
        raise ValueError(f"Xero payment {money.payment_id}: its outcome raised no exception to publish")
    details = {
        "xero_payment_id": money.payment_id,
        "amount": f"{money.amount:.2f}",
        "source": money.source.value,
        "status": money.status,
        "invoice_number": money.invoice_number or "",
    }
    if invoice is not None:
        details.update(
            cw_invoice_id=str(invoice.id), cw_invoice_number=invoice.number, cw_balance=f"{invoice.balance:.2f}"
        )
    return {
        "exception_id": str(uuid.uuid4()),
        "kind": raised.kind,
        "record_type": RecordKind.XERO_PAYMENT.value,
        "record_id": money.payment_id,
        "organisation_id": money.organisation_id,
        "customer": (invoice.company_name or invoice.company_identifier) if invoice else money.contact_name,
        "message": raised.message,
        "details": details,
        "audit_entry_id": None,
        "raised_at": datetime.now(timezone.utc),
    }


class MatcherService:
    def __init__(self, matcher: Matcher, codec: Codec, producer, before_batch=lambda: None):
        self.matcher, self.codec, self.producer, self.before_batch = matcher, codec, producer, before_batch
        matcher.publish = self.publish

    def publish(self, outcome: Outcome) -> None:
        key = f"{RecordKind.XERO_PAYMENT.value}:{outcome.money.payment_id}".encode()
        self.producer.produce(
            SYNC_EXCEPTIONS.name, key=key, value=self.codec.encode("sync_exception", exception_event(outcome))
        )
        self.producer.poll(0)

    def handle(self, msgs: list[Message]) -> Poison:
        poison: Poison = []
        moneys = []
        for msg in msgs:
            MESSAGES.labels(service=SERVICE, topic=msg.topic()).inc()
            try:
                name, record = self.codec.decode(msg.value())
                if name != "xero_payment_received":
                    raise FramingError(f"expected a xero_payment_received, got {name}")
                moneys.append(from_event(record))
            except (FramingError, BadEvent) as exc:
                log.warning("unreadable Xero payment: %s", exc, extra=message_context(msg))
                POISON.labels(service=SERVICE, topic=msg.topic()).inc()
                poison.append((msg, exc))
        if moneys:
            self.before_batch()
            self._count(self.matcher.handle(moneys))
        self.producer.flush(30)
        return poison

    @staticmethod
    def _count(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            DECIDED.labels(outcome=outcome.event.value).inc()
            log.info("%s: %s (%s)", outcome.money.label, outcome.event.value, outcome.note)
