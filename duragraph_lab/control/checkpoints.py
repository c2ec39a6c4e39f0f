"""Checkpoints of a thread, its state at any of them and its history, read from the event log.

There is no checkpoint table: a checkpoint is an event after which the graph's state is settled
— a run's input (``run_created``), a step boundary (``step_planned``), the end (``run_completed``)
or a state edit (``state_updated``). Its id is that event's ``event_id``. The state "at" a
checkpoint covers everything up to the next checkpoint of the same run: the step's finished
tasks, its interrupts and its errors, as LangGraph shows pending writes with a checkpoint. Any
other event id of the thread is accepted too and means the state right after that event.

The answers are :class:`Point` values; their LangGraph shapes (``ThreadState``, checkpoint
metadata) are the API's (``api/checkpoints.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from duragraph_lab.control.history import RunHistory
from duragraph_lab.control.read_models import CheckpointIndex, RunReadModel, ThreadReadModel
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.run import RunState, apply, fold
from duragraph_lab.engine.history import resolve_base

CHECKPOINT_TYPES = frozenset({ev.RUN_CREATED, ev.STEP_PLANNED, ev.RUN_COMPLETED, ev.STATE_UPDATED})


def is_checkpoint(event: RecordedEvent) -> bool:
    return event.type in CHECKPOINT_TYPES and not event.data.get("ns")


@dataclass(slots=True)
class Point:
    """One checkpoint of a thread (or any event used as one). ``ns``: the subgraph namespace it
    belongs to ("" for the root graph)."""

    run_id: str
    event: RecordedEvent
    state: RunState
    parent: RecordedEvent | None
    ns: str = ""


class Checkpoints:
    def __init__(
        self, history: RunHistory, index: CheckpointIndex, runs: RunReadModel, threads: ThreadReadModel
    ) -> None:
        self.run_history = history
        self.index = index
        self.runs = runs
        self.threads = threads

    # -- reading runs --------------------------------------------------------------------------
    async def thread_runs(self, thread_id: str) -> list[str]:
        """The thread's runs (not deleted), oldest first."""
        return await self.runs.thread_run_ids(thread_id)

    async def _events(self, run_id: str) -> list[RecordedEvent]:
        return await self.run_history.read_run(run_id)

    async def _base(self, events: Sequence[RecordedEvent]) -> RunState | None:
        created = next((e for e in events if e.type == ev.RUN_CREATED), None)
        base = created.data.get("base") if created else None
        return await resolve_base(base, self._events, self.run_history.cache)

    async def _parent_of_run(self, events: Sequence[RecordedEvent]) -> RecordedEvent | None:
        """The checkpoint a run started from: its base's last checkpoint at the base point."""
        created = next((e for e in events if e.type == ev.RUN_CREATED), None)
        base = created.data.get("base") if created else None
        if not base:
            return None
        base_events = await self._events(str(base["run_id"]))
        limit = base.get("seq")
        candidates = [e for e in base_events if is_checkpoint(e) and (limit is None or e.seq <= int(limit))]
        return candidates[-1] if candidates else None

    async def locate(self, thread_id: str, checkpoint_id: str) -> tuple[str, int]:
        """``(run_id, seq)`` of a checkpoint id (an event id) of this thread."""
        try:
            event_id = str(uuid.UUID(str(checkpoint_id)))
        except ValueError:
            raise NotFound(f"checkpoint {checkpoint_id!r} is not a valid checkpoint id") from None
        found = await self.index.locate(event_id)
        if found is None:
            # A LangGraph graph's thread: LangGraph's own checkpoint ids are accepted too.
            found = await self.index.locate_langgraph(thread_id, str(checkpoint_id))
        if found is None or not found.stream_id.startswith("run:") or found.thread_id != thread_id:
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")
        return found.stream_id.split(":", 1)[1], found.seq

    # -- points --------------------------------------------------------------------------------
    async def latest(self, thread_id: str) -> Point | None:
        """The thread's current state, at its latest checkpoint (None: no runs yet)."""
        thread = await self.threads.get(thread_id)
        if thread is None:
            raise NotFound(f"thread {thread_id} does not exist")
        if not thread.last_run_id:
            return None
        last = await self.run_history.state(thread.last_run_id)
        if await self.run_history.rolled_back(last):
            # The latest run was rolled back: the thread is where that run started.
            base = last.base
            return await self._point(str(base["run_id"]), base.get("seq")) if base else None
        return await self._point(thread.last_run_id, None)

    async def at(self, thread_id: str, checkpoint_id: str) -> Point:
        run_id, seq = await self.locate(thread_id, checkpoint_id)
        return await self._point(run_id, seq)

    async def _point(self, run_id: str, seq: int | None) -> Point:
        """The state at the checkpoint event ``seq`` of a run (None: the latest), extended to
        the events before the run's next checkpoint.

        Reads only the few events that locate the checkpoint and its neighbours (each an index
        lookup), and the state through :meth:`RunHistory.state` (from the run's nearest
        snapshot): a checkpoint of a long run costs the same as one of a short run.
        """
        stream = f"run:{run_id}"
        head = await self.index.last(stream)
        if head is None:
            raise NotFound(f"run {run_id} does not exist")
        if seq is None:
            anchor = await self.index.last_checkpoint(stream) or await self.index.first(stream)
            assert anchor is not None
            upto = head.seq
        else:
            found = await self.index.at_seq(stream, seq)
            if found is None:
                raise NotFound(f"run {run_id} has no event with seq {seq}")
            anchor = found
            if not is_checkpoint(anchor):
                upto = seq  # any other event: exactly the state after it
            else:
                later = await self.index.next_checkpoint(stream, after_version=anchor.version)
                upto = later.seq - 1 if later is not None else head.seq
        state = await self.run_history.state(run_id, at_seq=upto)
        parent = await self.index.last_checkpoint(stream, before_version=anchor.version)
        if parent is None:
            # A run's stream starts with its run_created (the fold refuses anything before it).
            first = await self.index.first(stream)
            parent = await self._parent_of_created(first if first and first.type == ev.RUN_CREATED else None)
        return Point(run_id, anchor, state, parent)

    async def _parent_of_created(self, created: RecordedEvent | None) -> RecordedEvent | None:
        """The checkpoint a run started from (see :meth:`_parent_of_run`), from its run_created."""
        base = created.data.get("base") if created else None
        if not base:
            return None
        stream = f"run:{base['run_id']}"
        if base.get("seq") is None:
            return await self.index.last_checkpoint(stream)
        at = await self.index.at_seq(stream, int(base["seq"]))
        if at is None:  # a base point outside its run: what the whole run says
            return await self._parent_of_run([created] if created else [])
        return await self.index.last_checkpoint(stream, before_version=at.version + 1)

    async def subgraph_points(self, point: Point) -> dict[str, Point]:
        """For each of the point's tasks that runs a subgraph, by task id: that subgraph's
        latest state (a point in its namespace)."""
        events = [e for e in await self._events(point.run_id) if e.seq <= point.state.last_seq]
        spaces = {str(e.data["ns"]) for e in events if e.data.get("ns")}
        out: dict[str, Point] = {}
        for task in point.state.tasks:
            prefix = f"{task.node}:{task.id}:"
            mine = sorted(
                (ns for ns in spaces if ns.startswith(prefix) and ns.count("|") == 1),
                key=lambda ns: int(ns[len(prefix) :].rstrip("|") or 0),
            )
            if not mine:
                continue
            ns = mine[-1]
            inner = fold(events, ns=ns)
            last = next((e for e in reversed(events) if e.data.get("ns") == ns), point.event)
            out[task.id] = Point(point.run_id, last, inner, None, ns.rstrip("|"))
        return out

    async def history(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        before: tuple[str, int] | None = None,
        matches: Callable[[Point], bool] | None = None,
    ) -> list[Point]:
        """The thread's checkpoints, newest first (every branch: forks included); only those
        ``matches`` accepts when given."""
        if await self.threads.get(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        out: list[Point] = []
        for run_id in reversed(await self.thread_runs(thread_id)):
            if matches is None:
                # Only the run's latest `limit` checkpoints can make the page (a run's own are in
                # seq order), and each run adds at least as many as before: the same page.
                out += reversed(await self._latest_points(run_id, limit, before))
                if len(out) >= limit:
                    break
                continue
            events = await self._events(run_id)
            checkpoints = [e for e in events if is_checkpoint(e)]
            if before is not None:
                checkpoints = [c for c in checkpoints if c.seq < before[1]]
            if not checkpoints:
                continue
            base = await self._base(events)
            run_parent = await self._parent_of_run(events)
            points = self._fold_points(run_id, events, checkpoints, base, run_parent)
            out += [point for point in reversed(points) if matches(point)]
            if len(out) >= limit:
                break
        out.sort(key=lambda p: p.event.seq, reverse=True)
        return out[:limit]

    async def _latest_points(self, run_id: str, limit: int, before: tuple[str, int] | None) -> list[Point]:
        """The points of the run's last ``limit`` checkpoints before ``before``, oldest first: the
        events from the first of them to the end of the last, folded from the state before
        them (the run's nearest snapshot), not the whole run."""
        stream = f"run:{run_id}"
        before_seq = before_version = None
        if before is not None:
            before_seq = before[1]
            at = await self.index.at_seq(stream, before[1])
            if at is not None:  # in this run: a bound the index walk can use
                before_version = at.version
        wanted = await self.index.last_checkpoints(
            stream, limit, before_seq=before_seq, before_version=before_version
        )
        if not wanted:
            return []
        first, last = wanted[0], wanted[-1]
        following = await self.index.next_checkpoint(stream, after_version=last.version)
        if following is not None:
            end = following.seq - 1
        else:
            head = await self.index.last(stream)
            assert head is not None
            end = head.seq
        parent = await self.index.last_checkpoint(stream, before_version=first.version)
        if first.version == 1:
            start = await self._base([first])
            if parent is None:
                parent = await self._parent_of_created(first if first.type == ev.RUN_CREATED else None)
        else:
            start = await self.run_history.state(run_id, at_seq=first.seq - 1)
            if parent is None:
                created = await self.index.first(stream)
                parent = await self._parent_of_created(
                    created if created and created.type == ev.RUN_CREATED else None
                )
        events = await self.run_history.store.read_stream(
            stream, after_version=first.version - 1, until_seq=end
        )
        return self._fold_points(run_id, events, wanted, start, parent)

    @staticmethod
    def _fold_points(
        run_id: str,
        events: Sequence[RecordedEvent],
        checkpoints: Sequence[RecordedEvent],
        base: RunState | None,
        run_parent: RecordedEvent | None,
    ) -> list[Point]:
        """Every checkpoint's state in one pass over the run's events."""
        wanted = {c.seq for c in checkpoints}
        all_checkpoints = [e for e in events if is_checkpoint(e)]
        # A checkpoint's state extends to the event before the run's next checkpoint.
        ends: dict[int, int] = {}
        for i, c in enumerate(all_checkpoints):
            nxt = all_checkpoints[i + 1].seq - 1 if i + 1 < len(all_checkpoints) else events[-1].seq
            ends[nxt] = c.seq
        state = base.clone() if base is not None else RunState()
        by_seq = {c.seq: c for c in all_checkpoints}
        parents: dict[int, RecordedEvent | None] = {}
        previous: RecordedEvent | None = run_parent
        for c in all_checkpoints:
            parents[c.seq] = previous
            previous = c
        points: list[Point] = []
        for event in events:
            if not event.data.get("ns"):
                apply(state, event)
            anchor = ends.get(event.seq)
            if anchor is not None and anchor in wanted:
                points.append(Point(run_id, by_seq[anchor], state.clone(), parents[anchor]))
        return points
