"""Offsets committed while messages finish out of order: never past one not yet done."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.writer.offsets import OffsetTracker

P, Q = ("xero.writes.v1", 0), ("xero.writes.v1", 1)


def test_a_slow_message_holds_its_partition_only():
    t = OffsetTracker()
    for offset in range(5):
        t.started(P, offset)
        t.started(Q, offset)
    for offset in (0, 2, 3, 4):  # offset 1 of P waits (its organisation is at its day limit)
        t.finished(P, offset)
        t.finished(Q, offset)
    t.finished(Q, 1)
    assert t.committable() == {P: 1, Q: 5} and t.in_flight == 1
    t.committed({P: 1, Q: 5})
    assert t.committable() == {}  # nothing moved since
    t.finished(P, 1)
    assert t.committable() == {P: 5}


def test_a_revoked_partition_is_forgotten():
    t = OffsetTracker()
    t.started(P, 7)
    t.forget([P])
    t.finished(P, 7)  # a lane finishing late changes nothing
    assert t.committable() == {} and t.in_flight == 0


@given(st.permutations(list(range(30))), st.integers(0, 30))
def test_the_commit_point_never_passes_a_message_not_done(order, how_many):
    t = OffsetTracker()
    for offset in range(30):
        t.started(P, offset)
    finished = set(order[:how_many])
    for offset in order[:how_many]:
        t.finished(P, offset)
    point = t.committable().get(P, 0)
    assert all(o in finished for o in range(point))  # everything before the point is done
    assert point == 30 or point not in finished  # and the point itself is the first one not done
