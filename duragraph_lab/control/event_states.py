"""The state of a run right after one of its events, and right before it: what a replay slider
shows at that event (the state, and the change the event made).

A node's completion is a point of its own here: the state after it has that node's update (and
those of the nodes of its step that completed before it) applied, as the step's end will apply
them. Checkpoints sit at step boundaries only, so at a node's completion they still show the
state before the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duragraph_lab.control.history import RunHistory
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import RunState


@dataclass(frozen=True, slots=True)
class EventState:
    run_id: str
    seq: int
    type: str
    node: str | None
    step: int | None
    #: The state right after the event (the step's completed nodes applied).
    values: dict[str, Any]
    #: The state right after the run's previous event (for its first event: the state the run
    #: started from), so ``values`` minus ``previous`` is the change this event made.
    previous: dict[str, Any]
    #: The seq of that previous event (None: the run's first event).
    previous_seq: int | None


def _values(state: RunState) -> dict[str, Any]:
    # Keys with custom reducers keep their value at the last step boundary until the step ends:
    # a reader of the log cannot run the graph's reducer code.
    return state.values_with_pending()


class EventStates:
    def __init__(self, history: RunHistory) -> None:
        self.history = history

    async def at(self, run_id: str, seq: int | None = None) -> EventState:
        """The state right after event ``seq`` of run ``run_id`` (None: its latest event) and right
        before it. :class:`NotFound` when the run has no event with that seq."""
        rid = parse_id(run_id, "run")
        if seq is None:
            events = await self.history.run_events(rid)
            if not events:
                raise NotFound(f"run {run_id} does not exist")
            event = events[-1]
        else:
            found = await self.history.event_at(rid, seq)
            if found is None or found.seq != seq:
                raise NotFound(f"run {run_id} has no event with seq {seq}")
            event = found
        after = await self.history.state(rid, at_seq=event.seq)
        try:
            before = await self.history.state(rid, at_seq=event.seq - 1)
            previous, previous_seq = _values(before), before.last_seq
            if before.run_id != rid:  # only events of the runs this one started from
                raise NotFound(rid)
        except NotFound:
            _, start = await self.history.load(rid)
            previous, previous_seq = (_values(start) if start is not None else {}), None
        data = event.data
        node, step = data.get("node"), data.get("step")
        return EventState(
            run_id=rid,
            seq=event.seq,
            type=event.type,
            node=node if isinstance(node, str) else None,
            step=step if isinstance(step, int) and not isinstance(step, bool) else None,
            values=_values(after),
            previous=previous,
            previous_seq=previous_seq,
        )
