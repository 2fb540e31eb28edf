"""A consumer of hints (ConnectWise callbacks, Xero webhook events): each message is
read into a hint and gathered in a `HintWindow`; the hints that are due go to the
service's `work`, one group at a time (a group is what one fetch can serve);
offsets are committed only behind hints not yet done, so a crash loses none (they
come again, and a record that did not change since emits nothing twice).

Errors, under the one policy (consumer_policy.py): an outage (the remote API,
Postgres, the broker) holds the group's hints and tries them again after a
growing pause; any other failure of a fetch is logged and the hints let go, since
the schedule reads every change anyway; a message that cannot be read is parked
in the dead-letter topic; what a restart cannot fix stops the service. `work`
marks each hint it finished with `window.done` and may put hints back with
`window.wait_for_write`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Generic

from confluent_kafka import Consumer, TopicPartition

from .codec import Codec
from .consumer_policy import Verdict, pause, verdict
from .hint_window import Hint, HintWindow, commit_positions
from .kafka import is_consume_error, send_to_dead_letter
from .metrics import MESSAGES, POISON
from .topics import Topic

log = logging.getLogger(__name__)
# (group, hints, window, now)
Work = Callable[[str, list[Hint], HintWindow[Hint], float], None]


class HintConsumer(Generic[Hint]):
    def __init__(
        self,
        service: str,
        topic: Topic,
        codec: Codec,
        read: Callable[[dict], Hint],
        group_of: Callable[[Hint], str],
        work: Work[Hint],
        window: HintWindow[Hint],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.service, self.topic, self.codec, self.read, self.group_of = service, topic, codec, read, group_of
        self.work, self.window, self.clock = work, window, clock
        self.consumed: dict[int, int] = {}  # partition -> last offset read
        self.committed: dict[int, int] = {}
        self.failures = 0
        self.running = False

    def take_in(self, msgs: list, producer) -> None:
        now = self.clock()
        for msg in msgs:
            if is_consume_error(msg):
                continue
            self.consumed[msg.partition()] = msg.offset()
            try:
                _, record = self.codec.decode(msg.value())
                hint = self.read(record)
            except (ValueError, KeyError, TypeError) as exc:
                POISON.labels(service=self.service, topic=msg.topic()).inc()
                send_to_dead_letter(producer, msg, exc, self.service)
                continue
            MESSAGES.labels(service=self.service, topic=msg.topic()).inc()
            self.window.add(hint, now, (msg.partition(), msg.offset()))

    def work_due(self) -> None:
        now = self.clock()
        groups: dict[str, list[Hint]] = {}
        for hint in self.window.take(now):
            groups.setdefault(self.group_of(hint), []).append(hint)
        for group, hints in groups.items():
            try:
                self.work(group, hints, self.window, now)
                self.failures = 0
            except Exception as exc:
                judged = verdict(exc)
                if judged is Verdict.STOP:
                    raise
                if judged is Verdict.DEAD_LETTER:
                    log.error(
                        "%s: %d hints (%s) let go, the schedule reads them: %s",
                        self.service,
                        len(hints),
                        group,
                        exc,
                        exc_info=not isinstance(exc, ValueError),
                    )
                    self.window.done(hints)
                    continue
                self.failures += 1
                wait = pause(self.failures)
                log.warning("%s: %d hints (%s) wait %.1fs: %s", self.service, len(hints), group, wait, exc)
                self.window.retry_later(hints, now, wait)

    def commit(self, consumer: Consumer) -> None:
        assigned = {tp.partition for tp in consumer.assignment()}
        positions = commit_positions(
            {p: o for p, o in self.consumed.items() if p in assigned}, self.window.uncommitted()
        )
        moved = {p: o for p, o in positions.items() if self.committed.get(p) != o}
        if moved:
            consumer.commit(
                offsets=[TopicPartition(self.topic.name, p, o) for p, o in moved.items()], asynchronous=False
            )
            self.committed.update(moved)

    def run(self, consumer: Consumer, producer, stop: threading.Event) -> None:
        self.running = True
        try:
            while not stop.is_set():
                due = self.window.next_due()
                wait = 0.2 if due is None else min(max(due - self.clock(), 0.01), 0.2)
                self.take_in(consumer.consume(500, wait), producer)
                if self.window.due(self.clock()):
                    self.work_due()
                self.commit(consumer)
        finally:
            self.running = False


def run_hint_consumer(
    service: str,
    open_consumer: Callable[[], Consumer],
    make: Callable[[], HintConsumer[Any]],
    producer,
    stop: threading.Event,
) -> None:
    """Consumes until `stop`; a broken consumer is rebuilt after a growing pause, resuming from its
    committed offsets (what was not done comes again)."""
    failures = 0
    while not stop.is_set():
        consumer = open_consumer()
        try:
            make().run(consumer, producer, stop)
            failures = 0
        except Exception as exc:
            if verdict(exc) is Verdict.STOP:
                log.error("%s hints consumer stopped: %s", service, exc)
                raise
            failures += 1
            log.error(
                "%s hints consumer failed, starting again in %.1fs: %s",
                service,
                pause(failures),
                exc,
                exc_info=verdict(exc) is not Verdict.RETRY,
            )
            stop.wait(pause(failures))
        finally:
            consumer.close()
