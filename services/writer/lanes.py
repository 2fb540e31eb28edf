"""One lane per organisation: a queue and a thread that writes that organisation's
requests in batches, so an organisation waiting out its day limit or a long
Retry-After holds up nobody else. How much a lane holds is bounded by the
consumer loop (`intake.py`), which leaves the rest in Kafka.

A lane takes what has queued (up to a batch), writes it, and reports each message
done, or poison with its error. It runs under the one error policy
(`common/consumer_policy.py`): an outage (Postgres away, another writer process
busy with this organisation) keeps the batch in the lane and tries again after a
growing pause; anything else dead-letters the batch's messages; a fatal error
stops the lanes and is raised to the consumer loop.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from confluent_kafka import Message

from ..common.consumer_policy import Verdict, pause, verdict
from .batching import WriteRequest

log = logging.getLogger(__name__)
Item = tuple[Message, WriteRequest]
Work = Callable[[str, list[WriteRequest]], None]
Done = Callable[[list[Message], list[tuple[Message, BaseException]]], None]  # (done, of which poison)


class Lanes:
    def __init__(self, work: Work, done: Done, max_batch: int):
        self.work, self.done, self.max_batch = work, done, max_batch
        self.stop = threading.Event()
        self._queues: dict[str, queue.Queue[Item]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.fatal: BaseException | None = None

    def put(self, organisation_id: str, item: Item) -> None:
        with self._lock:
            lane = self._queues.get(organisation_id)
            if lane is None:
                lane = self._queues[organisation_id] = queue.Queue()
                thread = threading.Thread(
                    target=self._run, args=(organisation_id, lane), daemon=True, name=f"writer-{organisation_id}"
                )
                self._threads.append(thread)
                thread.start()
        lane.put(item)

    def _take(self, lane: queue.Queue[Item]) -> list[Item]:
        try:
            items = [lane.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(items) < self.max_batch:
            try:
                items.append(lane.get_nowait())
            except queue.Empty:
                break
        return items

    def _run(self, organisation_id: str, lane: queue.Queue[Item]) -> None:
        while not self.stop.is_set():
            items = self._take(lane)
            if items:
                self._write(organisation_id, items)

    def _write(self, organisation_id: str, items: list[Item]) -> None:
        outages = 0
        while not self.stop.is_set():
            try:
                self.work(organisation_id, [req for _, req in items])
                self.done([msg for msg, _ in items], [])
                return
            except Exception as exc:
                judged = verdict(exc)
                if judged is Verdict.STOP:
                    self.fatal = exc
                    self.stop.set()
                    return
                if judged is Verdict.RETRY:
                    outages += 1
                    wait = pause(outages)
                    log.warning("writing for %s waits %.1fs: %s", organisation_id, wait, exc)
                    self.stop.wait(wait)
                    continue
                # It would fail the same way on every delivery: park these messages, do not loop.
                log.exception("writing for %s failed; its messages go to the dead-letter topic", organisation_id)
                self.done([msg for msg, _ in items], [(msg, exc) for msg, _ in items])
                return

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)
