"""Offsets committed while messages finish out of order: never past one not yet done, whether
held in memory or left in Kafka for an organisation that cannot write."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.writer.offsets import OffsetTracker

P, Q = ("xero.writes.v1", 0), ("xero.writes.v1", 1)


def test_a_slow_message_holds_its_partition_only():
    t = OffsetTracker()
    for offset in range(5):
        assert t.arrived(P, offset, "adelaide") and t.arrived(Q, offset, "sydney")
    for offset in (0, 2, 3, 4):  # offset 1 of P waits (its organisation is at its day limit)
        t.finished(P, offset)
        t.finished(Q, offset)
    t.finished(Q, 1)
    assert t.committable() == {P: 1, Q: 5} and t.holding("adelaide") == 1
    t.committed({P: 1, Q: 5})
    assert t.committable() == {}  # nothing moved since
    t.finished(P, 1)
    assert t.committable() == {P: 5}


def test_a_revoked_partition_is_forgotten():
    t = OffsetTracker()
    t.arrived(P, 7, "adelaide")
    t.forget([P])
    t.finished(P, 7)  # a lane finishing late changes nothing
    assert t.committable() == {} and t.holding("adelaide") == 0 and t.tracked() == set()


def test_a_full_organisation_leaves_its_messages_in_kafka_and_the_others_go_on():
    t = OffsetTracker(hold=2)
    taken = [t.arrived(P, o, org) for o, org in enumerate(["ade", "ade", "ade", "syd", "ade", "syd"])]
    assert taken == [True, True, False, True, False, True]  # Adelaide's third and fourth stay in Kafka
    for o in (3, 5):
        t.finished(P, o)
    assert t.committable() == {P: 0} and t.rewinds() == {}  # Adelaide is still full
    t.finished(P, 0)
    assert t.committable() == {P: 1}
    t.finished(P, 1)
    assert t.committable() == {P: 2}  # never past a message left in Kafka
    assert t.rewinds() == {P: 2}  # room again: read from the oldest it left
    assert t.rewinds() == {}  # not again while that reading is under way
    # Read again: Sydney's were handled, Adelaide's are taken in order, up to its hold.
    assert [t.arrived(P, o, org) for o, org in [(2, "ade"), (3, "syd"), (4, "ade"), (5, "syd")]] == [True, False, True, False]
    assert t.arrived(P, 6, "ade") is False  # full again: left
    t.finished(P, 2)
    t.finished(P, 4)
    assert t.committable() == {P: 6} and t.rewinds() == {P: 6}


def test_an_organisation_that_left_messages_keeps_its_order():
    t = OffsetTracker(hold=1)
    assert t.arrived(P, 0, "ade") and not t.arrived(P, 1, "ade")
    t.finished(P, 0)  # room again, but its oldest left (1) comes first: 2 stays in Kafka too
    assert not t.arrived(P, 2, "ade")
    assert not t.arrived(P, 2, "ade")  # delivered again out of turn: still not taken
    assert t.rewinds() == {P: 1}
    assert t.arrived(P, 1, "ade") and not t.arrived(P, 2, "ade")


@given(st.permutations(list(range(30))), st.integers(0, 30))
def test_the_commit_point_never_passes_a_message_not_done(order, how_many):
    t = OffsetTracker()
    for offset in range(30):
        t.arrived(P, offset, "adelaide")
    finished = set(order[:how_many])
    for offset in order[:how_many]:
        t.finished(P, offset)
    point = t.committable().get(P, 0)
    assert all(o in finished for o in range(point))  # everything before the point is done
    assert point == 30 or point not in finished  # and the point itself is the first one not done


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc-"), st.booleans()), max_size=60),
       st.integers(1, 4))
def test_every_message_is_taken_once_in_order_and_never_committed_before(script, hold):
    """Messages of three organisations in one partition; after each, one organisation's lane
    finishes its oldest (or none does), and the consumer's batch may end, when it seeks back
    as asked. Each message is taken exactly once, each organisation's in offset order, and the
    commit point never passes a message not done."""
    t = OffsetTracker(hold=hold)
    log = [org for org, _, _ in script]
    taken: list[int] = []
    done: set[int] = set()
    position, steps = 0, iter(script)
    while len(done) < len(log):
        if position < len(log):
            if t.arrived(P, position, log[position]):
                taken.append(position)
            position += 1
            _, finishing, batch_ends = next(steps, ("", "-", True))
        else:  # all read: the lanes drain, oldest first
            finishing = log[min(o for o in taken if o not in done)] if set(taken) - done else "-"
            batch_ends = True
        pending = [o for o in taken if o not in done and log[o] == finishing]
        if pending:
            done.add(pending[0])
            t.finished(P, pending[0])
        point = t.committable().get(P, 0)
        assert all(o in done for o in range(point))
        if batch_ends:
            position = min(t.rewinds().get(P, position), position)
    assert sorted(taken) == list(range(len(log)))  # each taken once
    for org in "abc":
        theirs = [o for o in taken if log[o] == org]
        assert theirs == sorted(theirs)  # in order
