"""One error policy for every consumer, batch consumers and Faust agents alike.

What goes wrong while handling messages is one of three things:
- **An outage** (Postgres, the broker, or a remote API out of reach): nothing
  was committed, so the consumer waits a growing pause, is rebuilt, and the
  same messages come again. Never dead-lettered: an outage holds records back,
  it must not lose them.
- **A message that fails** for any other reason is tried again, up to
  `ATTEMPTS` times, alone; then it goes to its topic's dead-letter topic with
  the error and its origin in headers, and the stream goes on. So one bad
  message neither loops forever nor holds up the others.
- **What a restart cannot fix** (settings that are wrong) stops the service,
  whose supervisor reports it by name.

An exception says which it is by its type here, or by a class attribute:
`transient = True` (an outage) or `fatal = True` (stop). Integrations mark
their own errors that way, so this module needs to know none of them.
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing
from enum import Enum
from typing import Callable

import psycopg
from confluent_kafka import Consumer, KafkaException, Message, Producer

from .kafka import BatchHandler, Poison, consume_batches, make_producer
from .settings import SettingsError

log = logging.getLogger(__name__)
ATTEMPTS = 3  # tries of one failing message before it is dead-lettered
PAUSE_FIRST, PAUSE_MAX = 0.5, 30.0
OUTAGES: tuple[type[BaseException], ...] = (psycopg.OperationalError, KafkaException, ConnectionError, TimeoutError)
FATAL: tuple[type[BaseException], ...] = (SettingsError,)


class Unavailable(Exception):
    """A part this service needs is out of reach (an outage in the policy's terms)."""

    transient = True


class Verdict(Enum):
    RETRY = "retry"  # an outage: wait, rebuild, try again
    DEAD_LETTER = "dead_letter"  # this message: try a few times, then park it
    STOP = "stop"  # a restart cannot fix it


def verdict(exc: BaseException) -> Verdict:
    if isinstance(exc, FATAL) or getattr(exc, "fatal", False):
        return Verdict.STOP
    if isinstance(exc, OUTAGES) or getattr(exc, "transient", False):
        return Verdict.RETRY
    return Verdict.DEAD_LETTER


def pause(failures: int) -> float:
    """The wait before the `failures`-th attempt after an outage."""
    return min(PAUSE_FIRST * 2 ** max(failures - 1, 0), PAUSE_MAX)


def isolating(handle: BatchHandler, service: str) -> BatchHandler:
    """A batch handler that, when the whole batch fails for a reason other than an
    outage, hands its messages over one at a time, each tried `ATTEMPTS` times, and
    returns those that still fail as poison (with their error) for the dead-letter topic.
    An outage or a fatal error is raised as it is."""

    def handle_isolated(msgs: list[Message]) -> Poison:
        try:
            return handle(msgs)
        except Exception as exc:
            if verdict(exc) is not Verdict.DEAD_LETTER:
                raise
            log.warning("%s: a batch of %d failed (%s); handling its messages one at a time", service, len(msgs), exc)
        poison: Poison = []
        for msg in msgs:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    poison += handle([msg])
                    break
                except Exception as exc:
                    if verdict(exc) is not Verdict.DEAD_LETTER:
                        raise
                    if attempt == ATTEMPTS:
                        poison.append((msg, exc))
        return poison

    return handle_isolated


Loop = Callable[[Consumer, Producer, Callable[[], bool]], None]


def run_consumer(
    service: str,
    bootstrap: str,
    open_consumer: Callable[[], Consumer],
    handle: BatchHandler | None,
    stop: threading.Event,
    *,
    max_batch: int = 500,
    poll_timeout: float = 0.5,
    on_running: Callable[[bool], None] = lambda running: None,
    loop: Loop | None = None,
) -> None:
    """Consumes with `handle` until `stop` is set, under the policy above. `open_consumer`
    makes a subscribed consumer; it and its producer are closed whenever the loop ends,
    and remade after an outage, resuming from the last committed offsets. A service with
    a loop of its own (the writer's lanes) passes `loop(consumer, producer, should_stop)`
    instead of a batch handler."""
    failures, progressed = 0, False
    isolated = isolating(handle, service) if handle is not None else None

    def handled(msgs: list[Message]) -> Poison:
        nonlocal progressed
        assert isolated is not None
        poison = isolated(msgs)
        progressed = True
        return poison

    while not stop.is_set():
        producer = make_producer(bootstrap)
        try:
            with closing(open_consumer()) as consumer:
                on_running(True)
                if loop is not None:
                    loop(consumer, producer, stop.is_set)
                else:
                    consume_batches(
                        consumer,
                        handled,
                        producer,
                        service,
                        stop.is_set,
                        max_batch=max_batch,
                        poll_timeout=poll_timeout,
                    )
        except Exception as exc:
            if verdict(exc) is Verdict.STOP:
                log.error("%s consumer stopped: %s", service, exc)
                raise
            failures = 1 if progressed else failures + 1  # it worked for a while: pauses start short again
            progressed = False
            wait = pause(failures)
            log.error(
                "%s consumer failed, starting again in %.1fs: %s",
                service,
                wait,
                exc,
                exc_info=verdict(exc) is not Verdict.RETRY,
            )
            stop.wait(wait)
        finally:
            on_running(False)
            producer.flush(5)
