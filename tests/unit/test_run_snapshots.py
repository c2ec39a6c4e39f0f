"""Run snapshots: a folded state as JSON and back, and folding on top of one, give exactly what
folding the whole prefix gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import json
import sys
from decimal import Decimal

import pytest

from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.run import RunState, fold
from duragraph_lab.domain.snapshots import fold_onto, state_from_json, state_to_json
from tests.unit.test_run_fold import (
    HAPPY,
    NEXT_RUN_ID,
    RUN_ID,
    Spec,
    _during,
    _interrupted,
    _resumed,
    completed,
    created,
    done,
    planned,
    recorded,
    started,
    task,
)

# Everything the fold keeps: interrupts and resumes (by id), retries, a Send argument, typed
# values, a subgraph's namespaced events, a mid-step state edit, cancel requests.
RICH: list[Spec] = [
    created({"log": ["in", dt.date(2025, 1, 2)], "name": ("start", 1)}, metadata={"k": Decimal("1.5")}),
    started(),
    planned(0, task("t-a", "a", 0), {**task("t-s", "s", 1), "arg": {"x": (1, 2)}}),
    (ev.NODE_FAILED, {"task": "t-a", "node": "a", "step": 0, "error": {"type": "Boom"}}),
    completed("t-s", "s", {"log": [b"bytes"]}),
    (ev.SUBGRAPH_STARTED, {"ns": "sub:1", "run_id": RUN_ID, "channels": {"log": "add"}}),
    (ev.STEP_PLANNED, {"ns": "sub:1", "step": 0, "tasks": []}),
    _interrupted(_during("t-a", "i-1", {"q": "ok?"}), _during("t-a", "i-2")),
    (ev.STATE_UPDATED, {"values": {"name": "edited"}, "as_node": "a"}),
    _resumed(by_id={"i-1": "yes"}),
    (ev.RUN_STARTED, {"attempt": 2, "worker_id": "w-2", "epoch": 8}),
    completed(
        "t-a", "a", {"log": ["a"], "name": "a", "messages": [{"role": "user", "content": "hi", "id": "m1"}]}
    ),
    planned(1, task("t-c", "c", 0), custom_values={"best": {"when": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}}),
    (ev.RUN_CANCEL_REQUESTED, {"action": "interrupt"}),
    completed("t-c", "c", {"log": ["c"]}),
    done(),
]


BIG = 1 << 30  # bytes per event: no snapshot is too big


def _round_trip(state: RunState) -> RunState:
    restored = state_from_json(codec.loads(state_to_json(state)))
    assert restored is not None
    return restored


@pytest.mark.parametrize("specs", [HAPPY, RICH], ids=["happy", "rich"])
def test_a_snapshot_after_any_event_restores_the_folded_state(specs: list[Spec]) -> None:
    events = recorded(specs)
    for n in range(len(events) + 1):
        expected = fold(events[:n])
        assert _round_trip(expected) == expected, f"after {n} events"


@pytest.mark.parametrize("every", [1, 2, 3, 5])
def test_folding_on_top_of_any_snapshot_gives_the_fold_of_the_whole_log(every: int) -> None:
    events = recorded(RICH)
    state = RunState()
    taken = fold_onto(state, events, after_version=0, every=every, bytes_per_event=BIG)
    assert state == fold(events)
    assert [t.version for t in taken] == [v for v in range(1, len(events) + 1) if v % every == 0]
    for snap in taken:
        assert snap.seq == events[snap.version - 1].seq
        restored = state_from_json(json.loads(snap.state, object_hook=codec._hook))
        assert restored == fold(events[: snap.version]), f"snapshot at version {snap.version}"
        rest = events[snap.version :]
        assert restored is not None
        fold_onto(restored, rest, after_version=snap.version, every=every, bytes_per_event=BIG)
        assert restored == fold(events), f"continued from version {snap.version}"


def test_a_snapshot_of_a_continuation_includes_its_base() -> None:
    first = fold(recorded(HAPPY))
    second = recorded(
        [created({"log": ["more"]}, run_id=NEXT_RUN_ID, base={"run_id": RUN_ID, "seq": 108}), started()],
        run_id=NEXT_RUN_ID,
        first_seq=201,
    )
    state = first.clone()
    taken = fold_onto(state, second, after_version=0, every=1, bytes_per_event=BIG)
    assert state == fold(second, first)
    restored = state_from_json(codec.loads(taken[-1].state))
    assert restored == fold(second, first) and restored is not None
    assert restored.values["log"] == ["in", "a", "b", "c", "more"]


def test_no_snapshot_is_taken_past_a_gap_in_the_versions() -> None:
    events = recorded(HAPPY)
    with_gap = events[:3] + events[4:]
    taken = fold_onto(RunState(), with_gap, after_version=0, every=1, bytes_per_event=BIG)
    assert [t.version for t in taken] == [1, 2, 3]
    assert fold_onto(fold(events[:2]), events[3:], after_version=2, every=1, bytes_per_event=BIG) == []


def test_a_snapshot_of_another_version_of_the_state_is_ignored() -> None:
    raw = codec.loads(state_to_json(fold(recorded(HAPPY))))
    assert state_from_json({**raw, "a_field_from_the_future": 1}) is None
    del raw["steps_run"]
    assert state_from_json(raw) is None
    assert state_from_json("not a state") is None  # type: ignore[arg-type]


@dataclasses.dataclass
class Point:
    x: int


class Colour(enum.Enum):
    RED = "red"


def test_decoding_data_whose_class_is_missing_counts_as_lossy(monkeypatch: pytest.MonkeyPatch) -> None:
    text = codec.dumps({"p": Point(1), "c": Colour.RED})
    before = codec.lossy_decodes()
    assert codec.loads(text) == {"p": Point(1), "c": Colour.RED}
    assert codec.lossy_decodes() == before, "classes at hand: nothing lost"
    monkeypatch.delitem(sys.modules, __name__)
    assert codec.loads(text) == {"p": {"x": 1}, "c": "red"}
    assert codec.lossy_decodes() == before + 2
    codec.loads('{"__dg__": "from-the-future", "v": 1}')
    assert codec.lossy_decodes() == before + 3


def test_snapshots_of_a_growing_state_take_at_most_their_byte_budget_per_event() -> None:
    # A conversation: every step adds a message, so the state grows with the run.
    specs: list[Spec] = [created({"log": []}), started()]
    for step in range(300):
        specs.append(planned(step, task(f"t{step}", "say", 0)))
        specs.append(completed(f"t{step}", "say", {"log": [f"message {step:04d} " + "x" * 80]}))
    specs.append(done())
    events = recorded(specs)
    state = RunState()
    taken = fold_onto(state, events, after_version=0, every=10, bytes_per_event=200)
    assert state == fold(events)
    versions = [t.version for t in taken]
    assert versions[:2] == [10, 20], "small states: one every 10 events"
    gaps = [b - a for a, b in itertools.pairwise(versions)]
    assert max(gaps) > 10, "big states: further apart"
    previous = 0
    for snap in taken:
        assert len(snap.state) <= 200 * (snap.version - previous)
        previous = snap.version
    assert sum(len(t.state) for t in taken) <= 200 * len(events)
    # Each is still the state after its event, and a reader continues from the latest.
    last = taken[-1]
    restored = state_from_json(codec.loads(last.state))
    assert restored == fold(events[: last.version]) and restored is not None
    more = fold_onto(
        restored, events[last.version :], after_version=last.version, every=10, bytes_per_event=60
    )
    assert restored == fold(events)
    previous = last.version
    for snap in more:
        assert len(snap.state) <= 200 * (snap.version - previous)
        previous = snap.version
