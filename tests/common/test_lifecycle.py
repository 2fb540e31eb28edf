"""The record lifecycle rule, transition by transition: every status meets every
event about an older, the same, a newer and an unknown observation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.lifecycle import FACTS, RULES, STAGE_OF_STATUS, Event, State, Status, next_state, next_status

T = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
OLDER, SAME, NEWER = T - timedelta(seconds=1), T, T + timedelta(seconds=1)

P, M, W, S, X, F, K, B, H = (Status.PENDING, Status.MAPPED, Status.WAITING, Status.SYNCED, Status.EXCEPTION,
                             Status.FAILED, Status.SKIPPED, Status.BEFORE_GO_LIVE, Status.SHADOW)
# What each event does to each status for the SAME observation (None: the status stays).
# Rows: the current status; columns: OBSERVED, MAPPED, HELD, UNREADABLE, RAISED, WRITTEN, REJECTED, FAILED, SKIPPED,
# BEFORE_GO_LIVE, SHADOWED.
EVENTS = (Event.OBSERVED, Event.MAPPED, Event.HELD, Event.UNREADABLE, Event.RAISED, Event.WRITTEN, Event.REJECTED,
          Event.FAILED, Event.SKIPPED, Event.BEFORE_GO_LIVE, Event.SHADOWED)
SAME_OBSERVATION = {
    P: (P, M, W, F, X, S, X, F, K, B, H),
    M: (None, M, W, F, X, S, X, F, K, B, H),
    W: (None, M, W, F, X, S, X, F, K, B, H),
    S: (None, None, None, F, X, S, X, F, K, B, H),
    X: (None, None, None, F, X, S, X, F, K, B, H),
    F: (None, None, None, F, X, S, X, F, K, B, H),
    K: (None, None, None, F, X, S, X, F, K, B, H),
    # A record before go-live, or decided in a shadow run, is an outcome like any other: what the same
    # observation learns later replaces it only from its own stage (never ingest's emission or the mapper's).
    B: (None, None, None, F, X, S, X, F, K, B, H),
    H: (None, None, None, F, X, S, X, F, K, B, H),
}


def test_the_table_covers_every_status_and_event():
    assert set(SAME_OBSERVATION) == set(Status)
    assert set(EVENTS) == set(RULES) == set(Event) - FACTS
    assert set(STAGE_OF_STATUS) == set(Status)


@pytest.mark.parametrize("status", [None, *Status])
@pytest.mark.parametrize("observed", [OLDER, SAME, NEWER, None])
@pytest.mark.parametrize("event", sorted(FACTS))
def test_a_fact_about_xero_never_moves_the_status(status, observed, event):
    """Xero's state of a record (approved, paid) is a fact beside the status, whatever the status."""
    assert next_state(None if status is None else State(status, SAME), event, observed) is None


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("index, event", list(enumerate(EVENTS)))
def test_same_observation_only_moves_forward(status, index, event):
    assert next_status(State(status, SAME), event, SAME) == SAME_OBSERVATION[status][index]


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("event", EVENTS)
def test_a_newer_observation_always_sets_the_status(status, event):
    assert next_state(State(status, SAME), event, NEWER) == State(RULES[event].status, NEWER)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("event", EVENTS)
def test_an_older_observation_never_moves_the_status(status, event):
    assert next_state(State(status, SAME), event, OLDER) is None


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("index, event", list(enumerate(EVENTS)))
def test_an_event_without_observation_is_about_the_current_one(status, index, event):
    expected = SAME_OBSERVATION[status][index]
    assert next_state(State(status, SAME), event, None) == (None if expected is None else State(expected, SAME))


@pytest.mark.parametrize("event", EVENTS)
def test_a_record_never_seen_takes_the_events_status(event):
    assert next_state(None, event, SAME) == State(RULES[event].status, SAME)


def test_observations_compare_at_avro_millisecond_precision():
    # Ingest keeps microseconds; the mapper reads the event's millisecond timestamp.
    precise = T.replace(microsecond=123456)
    assert next_status(State(Status.PENDING, precise), Event.MAPPED, T.replace(microsecond=123000)) == Status.MAPPED


def test_writer_outcome_before_ingest_records_the_emission():
    """The writer may store its outcome before ingest stores that it emitted the event."""
    state = next_state(State(Status.SYNCED, OLDER), Event.MAPPED, SAME)  # new content mapped
    state = next_state(state, Event.WRITTEN, SAME)
    assert next_state(state, Event.OBSERVED, SAME) is None  # ingest's late record leaves the outcome
    assert state == State(Status.SYNCED, SAME)


def test_a_replayed_old_event_cannot_undo_a_newer_outcome():
    state = State(Status.SYNCED, NEWER)
    for event in EVENTS:
        assert next_state(state, event, SAME) is None


PIPELINE = (Event.OBSERVED, Event.MAPPED, Event.WRITTEN)


@given(st.permutations([0, 0, 0, 1, 1, 1, 2, 2, 2]), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 12)),
                                                         max_size=4))
def test_in_any_interleaving_with_replays_the_newest_observation_ends_synced(labels, replays):
    """Three observations of one record, each going OBSERVED -> MAPPED -> WRITTEN, their events
    interleaved in any order that keeps each observation's own pipeline in order, with whole
    pipelines of any of them replayed at any point: the record ends synced on the newest."""
    times = [T + timedelta(seconds=i) for i in range(3)]
    seen = [0, 0, 0]
    events = []
    for label in labels:
        events.append((PIPELINE[seen[label]], times[label]))
        seen[label] += 1
    for index, position in replays:
        events[position:position] = [(e, times[index]) for e in PIPELINE]
    state = None
    for event, at in events:
        state = next_state(state, event, at) or state
    assert state == State(Status.SYNCED, times[2])
