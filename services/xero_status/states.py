"""Verified Xero webhook events become the states of the records we wrote.

Per organisation and category, the hinted documents the writer's ledger holds are
read from Xero in few calls; each new state is published (for the audit log and
the mapper, which lets money waiting for an approved document go), raises an
exception when someone voided or deleted a record we wrote, and is then stored.
Xero sends no payment events today; should it, one asks for a payment cycle (at
most once a minute: a cycle reads every organisation), since payments are what
the payment poll reads. Let go without a call: events for documents we
did not write (made by hand in Xero), categories we do not follow (contacts), and
the CREATE event of a document the ledger holds (only our own write creates a
document with the id the ledger has; any later change is an UPDATE). A record
with a write in flight waits for that write: Xero may be showing it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from confluent_kafka import KafkaError
from prometheus_client import Counter

from ..common.codec import Codec
from ..common.hint_window import HintWindow
from ..common.record_kinds import RecordKind
from ..common.topics import SYNC_COMMANDS, SYNC_EXCEPTIONS, XERO_DOCUMENT_STATES, Topic
from ..integrations.xero.client import XeroClient
from .decide import StateChange, decide
from .fetch import CATEGORIES, states
from .store import StateStore

log = logging.getLogger(__name__)
EVENTS = Counter("cz_xero_webhook_events_total", "Xero webhook events, by what became of them", ["outcome"])
STATE_CHANGES = Counter(
    "cz_xero_state_changes_total", "Xero states of written records that changed", ["record_type", "xero_status"]
)
_IDS = uuid.UUID("3b0f6a2e-9d7c-4f7e-8e55-0d3c1f2a7b19")


PAYMENT_CYCLE_EVERY = 60.0  # seconds between payment cycles asked for by payment events
PAYMENT_CATEGORIES = frozenset({"PAYMENT", "PAYMENTS"})


@dataclass(frozen=True, order=True)
class DocumentHint:
    tenant_id: str
    category: str
    resource_id: str
    created: bool  # a CREATE event (else an UPDATE)


def read_hint(record: dict) -> DocumentHint:
    return DocumentHint(
        str(record["tenant_id"]),
        str(record["event_category"]).upper(),
        str(record["resource_id"]),
        str(record["event_type"]).upper() == "CREATE",
    )


def group_of(hint: DocumentHint) -> str:
    return f"{hint.tenant_id}|{hint.category}"


class Publisher:
    """Sends what the changes mean and waits for the broker: published before the changes are
    stored, so a crash in between publishes again rather than never."""

    def __init__(self, producer, codec: Codec, timeout: float = 10.0, clock=time.monotonic):
        self.producer, self.codec, self.timeout, self.clock = producer, codec, timeout, clock
        self._last_payment_cycle: float | None = None

    def _send(self, topic: Topic, key: str, record: dict, errors: list) -> None:
        self.producer.produce(
            topic.name,
            key=key.encode(),
            value=self.codec.encode(topic.schema, record),
            on_delivery=lambda err, _msg: errors.append(err) if err else None,
        )

    def publish(self, changes: list[StateChange]) -> None:
        now = datetime.now(timezone.utc)
        errors: list[KafkaError] = []
        for c in changes:
            held = c.held
            key = f"{held.record_type}:{held.cw_id}"
            self._send(
                XERO_DOCUMENT_STATES,
                key,
                {
                    "record_type": held.record_type,
                    "cw_id": int(held.cw_id),
                    "organisation_id": held.organisation_id,
                    "xero_id": held.xero_id,
                    "xero_status": c.status,
                    "previous_status": c.previous,
                    "removed_in_xero": c.disagreement is not None,
                    "changed_at": now,
                },
                errors,
            )
            if c.disagreement:
                # The same change seen twice (a replayed webhook before it was stored) is one exception.
                exception_id = uuid.uuid5(_IDS, f"{held.organisation_id}|{key}|{c.previous}|{c.status}")
                self._send(
                    SYNC_EXCEPTIONS,
                    key,
                    {
                        "exception_id": str(exception_id),
                        "kind": c.exception_kind,
                        "record_type": held.record_type,
                        "record_id": str(held.cw_id),
                        "organisation_id": held.organisation_id,
                        "customer": None,
                        "message": c.disagreement,
                        "details": {
                            "xero_id": held.xero_id,
                            "xero_status": c.status,
                            "previous_status": c.previous or "",
                        },
                        "audit_entry_id": None,
                        "raised_at": now,
                    },
                    errors,
                )
        self._flush(errors)

    def payment_cycle(self) -> None:
        """Money moved in Xero: asks ingest to read payments now rather than at the next cycle."""
        asked = self._last_payment_cycle
        if asked is not None and self.clock() - asked < PAYMENT_CYCLE_EVERY:
            return
        errors: list = []
        self._send(
            SYNC_COMMANDS,
            RecordKind.XERO_PAYMENT.value,
            {
                "command_id": str(uuid.uuid4()),
                "action": "RUN_CYCLE",
                "record_type": RecordKind.XERO_PAYMENT.value,
                "record_id": None,
                "window_from": None,
                "window_to": None,
                "requested_by": "xero webhook",
                "requested_at": datetime.now(timezone.utc),
            },
            errors,
        )
        self._flush(errors)
        self._last_payment_cycle = self.clock()

    def _flush(self, errors: list) -> None:
        remaining = self.producer.flush(self.timeout)
        if remaining or errors:
            raise ConnectionError(f"not published: {errors[0] if errors else 'the broker did not answer'}")


class StateWork:
    """The work of one group of hints (one organisation's documents of one category)."""

    def __init__(self, client: XeroClient, store: StateStore, publisher: Publisher):
        self.client, self.store, self.publisher = client, store, publisher

    def __call__(self, group: str, hints: list[DocumentHint], window: HintWindow[DocumentHint], now: float) -> None:
        tenant_id, category = group.split("|", 1)
        if category in PAYMENT_CATEGORIES:
            self.publisher.payment_cycle()
            EVENTS.labels(outcome="payment_cycle").inc(len(hints))
            window.done(hints)
            return
        document = CATEGORIES.get(category)
        org = self.store.organisation(tenant_id) if document else None
        if document is None or org is None:
            EVENTS.labels(outcome="not_followed" if document is None else "unknown_tenant").inc(len(hints))
            window.done(hints)
            return
        held = self.store.held(org.organisation_id, [h.resource_id for h in hints])
        ours = [h for h in hints if h.resource_id.lower() in held]
        EVENTS.labels(outcome="not_written_by_us").inc(len(hints) - len(ours))
        window.done([h for h in hints if h.resource_id.lower() not in held])
        echoes = [
            h
            for h in ours
            if h.created and held[h.resource_id.lower()].xero_status and not held[h.resource_id.lower()].write_in_flight
        ]
        EVENTS.labels(outcome="our_creation").inc(len(echoes))
        window.done(echoes)
        ours = [h for h in ours if h not in echoes]
        in_flight = [h for h in ours if held[h.resource_id.lower()].write_in_flight]
        overdue = set(window.wait_for_write(in_flight, now))
        ready = [h for h in ours if not held[h.resource_id.lower()].write_in_flight or h in overdue]
        if not ready:
            return
        resources = sorted({h.resource_id for h in ready})  # a CREATE and an UPDATE of one document are one
        records = [held[r.lower()] for r in resources]
        found = states(
            self.client,
            org,
            document,
            resources,
            tags={
                "organisation_id": org.organisation_id,
                "record_type": records[0].record_type,
                "record_id": ",".join(r.cw_id for r in records),
            },
        )
        changes = []
        for resource_id in resources:
            now_in_xero = found.get(resource_id.lower())
            if now_in_xero is not None:
                change = decide(held[resource_id.lower()], now_in_xero.status, now_in_xero.number)
                if change is not None:
                    changes.append(change)
        if changes:
            self.publisher.publish(changes)
            self.store.record(changes)
        for c in changes:
            STATE_CHANGES.labels(record_type=c.held.record_type, xero_status=c.status).inc()
            log.info(
                "%s %s (%s) is %s in Xero (was %s)%s",
                c.held.record_type,
                c.held.cw_id,
                c.number,
                c.status,
                c.previous or "unknown",
                ": the books now disagree" if c.disagreement else "",
            )
        EVENTS.labels(outcome="changed").inc(len(changes))
        EVENTS.labels(outcome="unchanged").inc(len(resources) - len(changes))
        window.done(ready)
