"""Run snapshots: a folded :class:`RunState` as JSON data, and folding that takes them.

A snapshot is derived data: the state ``fold`` gives after the first ``version`` events of a run's
stream (subgraph events included in the count, though the root fold skips them). Continuing the
fold from a snapshot gives exactly what folding the whole prefix gives, so a reader may start
from the nearest snapshot instead of the run's first event, and deleting every snapshot changes
nothing but speed.

The JSON form goes through :mod:`duragraph_lab.domain.codec`, so values keep their types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, RunStatus, Task, TaskResult, apply

#: A snapshot every this many events of a run's stream: a reader then folds at most this many
#: events on top of one. Reading and decoding an event costs ~10-20 µs, folding it ~3 µs.
SNAPSHOT_EVERY = 500
#: At most this many bytes of snapshot (its JSON text) per event since the previous snapshot. A
#: state that grows with the run (a conversation's messages) would otherwise make the snapshots
#: grow as steps²: past the budget, a snapshot is skipped and the next is due a gap later, so
#: snapshots never take more than this per event of the log (an event row is ~300-500 bytes).
SNAPSHOT_BYTES_PER_EVENT = 100

_FIELDS = tuple(f.name for f in dataclasses.fields(RunState))


def state_to_json(state: RunState) -> str:
    """``state`` as compact JSON text (raises :class:`~duragraph_lab.domain.errors.EncodingError`
    for a value the codec cannot round-trip)."""
    raw: dict[str, Any] = {name: getattr(state, name) for name in _FIELDS}
    raw["status"] = state.status.value if state.status is not None else None
    raw["tasks"] = [t.to_json() for t in state.tasks]
    raw["results"] = {k: dataclasses.asdict(r) for k, r in state.results.items()}
    return codec.dumps(raw)


def state_from_json(raw: Mapping[str, Any]) -> RunState | None:
    """The state :func:`state_to_json` wrote (already decoded by the codec), or ``None`` when it
    was written for a different set of fields (another version of :class:`RunState`)."""
    if not isinstance(raw, Mapping) or set(raw) != set(_FIELDS):
        return None
    values = dict(raw)
    values["status"] = RunStatus(raw["status"]) if raw["status"] is not None else None
    values["tasks"] = [Task.from_json(t) for t in raw["tasks"]]
    values["results"] = {k: TaskResult(**r) for k, r in raw["results"].items()}
    return RunState(**values)


@dataclasses.dataclass(frozen=True, slots=True)
class TakenSnapshot:
    version: int  # position in the run's stream: events 1..version are folded in
    seq: int  # that event's global seq
    state: str  # JSON text (state_to_json)


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored snapshot, read back: the state after the first ``version`` events of a run."""

    version: int  # events 1..version of the run's stream are folded into state
    seq: int
    state: RunState


def fold_onto(
    state: RunState,
    events: Iterable[RecordedEvent],
    *,
    after_version: int,
    every: int = SNAPSHOT_EVERY,
    bytes_per_event: int = SNAPSHOT_BYTES_PER_EVENT,
    ns: str = "",
) -> list[TakenSnapshot]:
    """Fold ``events`` (the run's stream right after ``after_version``, itself the version of
    the previous snapshot or 0) into ``state`` in place, like :func:`~duragraph_lab.domain.run.fold`,
    and return a snapshot at the stream versions that are multiples of ``every`` (``every=0``:
    none), each no bigger than ``bytes_per_event`` times the events since the previous one.

    Snapshots are taken only while the events follow each other without a gap: a snapshot at
    version n must have folded every one of the first n events.
    """
    taken: list[TakenSnapshot] = []
    expected, previous = after_version + 1, after_version
    for event in events:
        if event.data.get("ns", "") == ns:
            apply(state, event)
        if event.version != expected:
            every = 0  # not a contiguous prefix: no snapshot can be vouched for
        expected = event.version + 1
        if every and event.version % every == 0:
            text = state_to_json(state)
            if len(text) <= bytes_per_event * (event.version - previous):
                taken.append(TakenSnapshot(event.version, event.seq, text))
                previous = event.version
    return taken
