"""Which messages the writer holds, which it leaves in Kafka, and which offsets may be
committed: pure logic.

The writer works each organisation in its own lane, so a message consumed later
(another organisation's) may be done before an earlier one (an organisation
waiting out its day limit or a long Retry-After). Such an organisation holds at
most `hold` messages in memory; its later ones are left in Kafka, uncommitted,
and read again (a seek back, `rewinds`) once its lane has room, while the other
organisations' messages around them go on. Organisations share partitions, so:

- a partition's offset is committed only up to its first message not yet done,
  whether held or left; whatever after it is done already is delivered again
  after a crash, and the ledger makes that harmless;
- once an organisation leaves a message in a partition, it leaves its later ones
  there too, and takes them back oldest first: its writes stay in order;
- a message delivered again by a seek back is taken only if it is the oldest one
  its organisation left there; any other was handled already, or is still left.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

Partition = tuple[str, int]  # (topic, partition)


@dataclass
class OffsetTracker:
    hold: int = 3000  # most messages of one organisation taken and not yet done
    _held: dict[Partition, dict[int, str]] = field(default_factory=dict)  # taken, not done: offset -> organisation
    _left: dict[Partition, dict[str, deque[int]]] = field(default_factory=dict)  # left in Kafka, oldest first
    _holding: Counter[str] = field(default_factory=Counter)  # per organisation: taken, not done
    _high: dict[Partition, int] = field(default_factory=dict)  # highest offset consumed
    _rereading: dict[Partition, int] = field(default_factory=dict)  # a seek back reads again up to this offset
    _committed: dict[Partition, int] = field(default_factory=dict)  # last offset handed out to commit

    def arrived(self, partition: Partition, offset: int, organisation: str) -> bool:
        """Whether to take this message now. False: it was handled already (delivered again
        by a seek back), or it is left in Kafka until its organisation has room."""
        if offset >= self._rereading.get(partition, offset + 1):
            del self._rereading[partition]
        left = self._left.setdefault(partition, {})
        waiting = left.get(organisation)
        full = self._holding[organisation] >= self.hold
        if offset <= self._high.get(partition, -1):
            if not waiting or waiting[0] != offset or full:
                return False
            waiting.popleft()
            if not waiting:
                del left[organisation]
        else:
            self._high[partition] = offset
            if waiting or full:
                left.setdefault(organisation, deque()).append(offset)
                return False
        self._held.setdefault(partition, {})[offset] = organisation
        self._holding[organisation] += 1
        return True

    def finished(self, partition: Partition, offset: int) -> None:
        """Done with this message; a partition no longer tracked (revoked) is ignored."""
        organisation = self._held.get(partition, {}).pop(offset, None)
        if organisation is not None:
            self._holding[organisation] -= 1

    def holding(self, organisation: str) -> int:
        return self._holding[organisation]

    def rewinds(self) -> dict[Partition, int]:
        """Where to seek back to, for each partition where an organisation with room again
        (half its hold or less) left messages; none while a seek back is still reading again."""
        seeks = {}
        for partition, left in self._left.items():
            ready = [waiting[0] for org, waiting in left.items() if self._holding[org] <= self.hold // 2]
            if ready and partition not in self._rereading:
                seeks[partition] = min(ready)
                self._rereading[partition] = self._high[partition]
        return seeks

    def committable(self) -> dict[Partition, int]:
        """The next offset to commit for each partition whose commit point moved: its first
        message not yet done, or the one after the highest consumed when all are done."""
        moved = {}
        for partition, high in self._high.items():
            pending = [*self._held.get(partition, {}), *(w[0] for w in self._left.get(partition, {}).values())]
            point = min(pending, default=high + 1)
            if point > self._committed.get(partition, -1):
                moved[partition] = point
        return moved

    def committed(self, points: dict[Partition, int]) -> None:
        self._committed.update(points)

    def forget(self, partitions: list[Partition]) -> None:
        """Partitions this consumer no longer owns: their late finishes change nothing, and what
        was left there is read by their new owner from the commit point."""
        for partition in partitions:
            for organisation in self._held.pop(partition, {}).values():
                self._holding[organisation] -= 1
            for store in (self._left, self._high, self._rereading, self._committed):
                store.pop(partition, None)

    def tracked(self) -> set[Partition]:
        return set(self._high) | set(self._held)
