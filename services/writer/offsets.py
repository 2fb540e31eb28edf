"""Which offsets may be committed while messages finish out of order: pure logic.

The writer works each organisation in its own lane, so a message consumed later
(another organisation's) may be done before an earlier one (an organisation
waiting out its day limit). A partition's offset can only be committed up to
its first message not yet done; everything after it that is done already will
be delivered again after a crash, and the ledger makes that harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Partition = tuple[str, int]  # (topic, partition)


@dataclass
class OffsetTracker:
    _open: dict[Partition, set[int]] = field(default_factory=dict)  # consumed, not done
    _high: dict[Partition, int] = field(default_factory=dict)  # highest offset consumed
    _committed: dict[Partition, int] = field(default_factory=dict)  # last offset handed out to commit

    def started(self, partition: Partition, offset: int) -> None:
        self._open.setdefault(partition, set()).add(offset)
        self._high[partition] = max(offset, self._high.get(partition, -1))

    def finished(self, partition: Partition, offset: int) -> None:
        """Done with this message; a partition no longer tracked (revoked) is ignored."""
        if partition in self._open:
            self._open[partition].discard(offset)

    @property
    def in_flight(self) -> int:
        return sum(len(offsets) for offsets in self._open.values())

    def committable(self) -> dict[Partition, int]:
        """The next offset to commit for each partition whose commit point moved: the first
        message not yet done, or the one after the highest consumed when all are done."""
        moved = {}
        for partition, high in self._high.items():
            open_ = self._open.get(partition)
            point = min(open_) if open_ else high + 1
            if point > self._committed.get(partition, -1):
                moved[partition] = point
        return moved

    def committed(self, points: dict[Partition, int]) -> None:
        self._committed.update(points)

    def forget(self, partitions: list[Partition]) -> None:
        """Partitions this consumer no longer owns: their late finishes change nothing."""
        for partition in partitions:
            self._open.pop(partition, None)
            self._high.pop(partition, None)
            self._committed.pop(partition, None)
