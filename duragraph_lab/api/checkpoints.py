"""Checkpoints, thread state and history, in LangGraph's shapes, read from the event log.

There is no checkpoint table: a checkpoint is an event after which the graph's state is settled
— a run's input (``run_created``), a step boundary (``step_planned``), the end (``run_completed``)
or a state edit (``state_updated``). Its id is that event's ``event_id``. The state "at" a
checkpoint covers everything up to the next checkpoint of the same run: the step's finished
tasks, its interrupts and its errors, as LangGraph shows pending writes with a checkpoint. Any
other event id of the thread is accepted too and means the state right after that event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, RunStatus, apply, fold, is_edit
from duragraph_lab.engine.history import resolve_base
from duragraph_lab.store.postgres import EVENT_COLUMNS, row_to_event
from duragraph_lab.worker.control import NotFound, RunControl

CHECKPOINT_TYPES = frozenset({ev.RUN_CREATED, ev.STEP_PLANNED, ev.RUN_COMPLETED, ev.STATE_UPDATED})
_CHECKPOINTS = sorted(CHECKPOINT_TYPES)
# is_checkpoint() in SQL: a checkpoint type, outside any subgraph (no "ns", or a falsy one).
_IS_CHECKPOINT = (
    "type = ANY(%s) AND coalesce(data->'ns' IN "
    "('null'::jsonb, '\"\"'::jsonb, 'false'::jsonb, '0'::jsonb, '[]'::jsonb, '{}'::jsonb), true)"
)
_SOURCES = {ev.STEP_PLANNED: "loop", ev.RUN_COMPLETED: "loop", ev.STATE_UPDATED: "update"}


def is_checkpoint(event: RecordedEvent) -> bool:
    return event.type in CHECKPOINT_TYPES and not event.data.get("ns")


@dataclass(slots=True)
class Point:
    """One checkpoint of a thread (or any event used as one)."""

    run_id: str
    event: RecordedEvent
    state: RunState
    parent: RecordedEvent | None


def interrupt_json(intr: Mapping[str, Any]) -> dict[str, Any]:
    out = {"value": plain(intr.get("value")), "id": str(intr.get("id"))}
    for key in ("when", "node"):
        if intr.get(key) is not None:
            out[key] = intr[key]
    return out


def thread_interrupts(state: RunState | None) -> dict[str, list[dict[str, Any]]]:
    """Pending interrupts by task id (LangGraph's ``Thread.interrupts``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if state is None or state.status is not RunStatus.INTERRUPTED:
        return out
    for intr in state.interrupts:
        key = str(intr.get("task") or f"{state.step}:{intr.get('node')}")
        out.setdefault(key, []).append(interrupt_json(intr))
    return out


class Checkpoints:
    def __init__(self, control: RunControl) -> None:
        self.control = control
        self.store = control.store

    # -- reading runs --------------------------------------------------------------------------
    async def thread_runs(self, thread_id: str) -> list[str]:
        """The thread's runs (not deleted), oldest first."""
        rows = await self.store._query(
            "SELECT run_id::text FROM duragraph.runs WHERE thread_id = %s ORDER BY created_at, run_id",
            (thread_id,),
        )
        return [r[0] for r in rows]

    async def _events(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{run_id}")

    async def _base(self, events: Sequence[RecordedEvent]) -> RunState | None:
        created = next((e for e in events if e.type == ev.RUN_CREATED), None)
        base = created.data.get("base") if created else None
        return await resolve_base(base, self._events, self.control.cache)

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
        rows = await self.store._query(
            "SELECT e.stream_id, e.seq, r.thread_id::text FROM duragraph.events e "
            "LEFT JOIN duragraph.runs r ON e.stream_id = 'run:' || r.run_id::text "
            "WHERE e.event_id = %s",
            (event_id,),
        )
        if not rows or not str(rows[0][0]).startswith("run:") or rows[0][2] != thread_id:
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")
        return str(rows[0][0]).split(":", 1)[1], int(rows[0][1])

    # -- points --------------------------------------------------------------------------------
    async def latest(self, thread_id: str) -> Point | None:
        """The thread's current state, at its latest checkpoint (None: no runs yet)."""
        row = await self.control.thread_row(thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id} does not exist")
        if not row[1]:
            return None
        last = await self.control.state(row[1])
        if await self.control.rolled_back(last):
            # The latest run was rolled back: the thread is where that run started.
            base = last.base
            return await self._point(str(base["run_id"]), base.get("seq")) if base else None
        return await self._point(row[1], None)

    async def at(self, thread_id: str, checkpoint_id: str) -> Point:
        run_id, seq = await self.locate(thread_id, checkpoint_id)
        return await self._point(run_id, seq)

    async def _point(self, run_id: str, seq: int | None) -> Point:
        """The state at the checkpoint event ``seq`` of a run (None: the latest), extended to
        the events before the run's next checkpoint.

        Reads only the few events that locate the checkpoint and its neighbours (each an index
        lookup), and the state through :meth:`RunControl.state` (from the run's nearest
        snapshot): a checkpoint of a long run costs the same as one of a short run.
        """
        stream = f"run:{run_id}"
        head = await self._event(stream, "", (), newest=True)
        if head is None:
            raise NotFound(f"run {run_id} does not exist")
        if seq is None:
            anchor = await self._checkpoint(stream) or await self._event(stream, "", ())
            assert anchor is not None
            upto = head.seq
        else:
            found = await self._event_at(stream, seq)
            if found is None:
                raise NotFound(f"run {run_id} has no event with seq {seq}")
            anchor = found
            if not is_checkpoint(anchor):
                upto = seq  # any other event: exactly the state after it
            else:
                later = await self._checkpoint(stream, after_version=anchor.version)
                upto = later.seq - 1 if later is not None else head.seq
        state = await self.control.state(run_id, at_seq=upto)
        parent = await self._checkpoint(stream, before_version=anchor.version)
        if parent is None:
            # A run's stream starts with its run_created (the fold refuses anything before it).
            first = await self._event(stream, "version = 1", ())
            parent = await self._parent_of_created(first if first and first.type == ev.RUN_CREATED else None)
        return Point(run_id, anchor, state, parent)

    async def _event(
        self, stream: str, where: str, params: Sequence[Any], *, newest: bool = False
    ) -> RecordedEvent | None:
        """The stream's first (or last) event matching ``where``, in version order: a walk of
        the (stream_id, version) index from one end, so ``where`` should bound the version."""
        rows = await self.store._query(
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE stream_id = %s"
            f"{' AND ' + where if where else ''} ORDER BY version {'DESC' if newest else ''} LIMIT 1",
            (stream, *params),
        )
        return row_to_event(rows[0]) if rows else None

    async def _event_at(self, stream: str, seq: int) -> RecordedEvent | None:
        """The event with ``seq``, if it belongs to ``stream`` (looked up by its primary key)."""
        rows = await self.store._query(f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE seq = %s", (seq,))
        event = row_to_event(rows[0]) if rows else None
        return event if event is not None and event.stream_id == stream else None

    async def _checkpoint(
        self, stream: str, *, before_version: int | None = None, after_version: int | None = None
    ) -> RecordedEvent | None:
        """The stream's first checkpoint after ``after_version``, or else its last one (before
        ``before_version`` when given)."""
        if after_version is not None:
            return await self._event(
                stream, f"version > %s AND {_IS_CHECKPOINT}", (after_version, _CHECKPOINTS)
            )
        if before_version is not None:
            return await self._event(
                stream, f"version < %s AND {_IS_CHECKPOINT}", (before_version, _CHECKPOINTS), newest=True
            )
        return await self._event(stream, _IS_CHECKPOINT, (_CHECKPOINTS,), newest=True)

    async def _parent_of_created(self, created: RecordedEvent | None) -> RecordedEvent | None:
        """The checkpoint a run started from (see :meth:`_parent_of_run`), from its run_created."""
        base = created.data.get("base") if created else None
        if not base:
            return None
        stream = f"run:{base['run_id']}"
        if base.get("seq") is None:
            return await self._checkpoint(stream)
        at = await self._event_at(stream, int(base["seq"]))
        if at is None:  # a base point outside its run: what the whole run says
            return await self._parent_of_run([created] if created else [])
        return await self._checkpoint(stream, before_version=at.version + 1)

    async def subgraph_states(self, thread_id: str, point: Point) -> dict[str, dict[str, Any]]:
        """The state of each of the point's tasks that runs a subgraph, by task id."""
        events = [e for e in await self._events(point.run_id) if e.seq <= point.state.last_seq]
        spaces = {str(e.data["ns"]) for e in events if e.data.get("ns")}
        out: dict[str, dict[str, Any]] = {}
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
            nested = thread_state(thread_id, Point(point.run_id, last, inner, None))
            nested["checkpoint"] = checkpoint_ref(thread_id, last, ns.rstrip("|"))
            out[task.id] = nested
        return out

    async def history(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        before: tuple[str, int] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Point]:
        """The thread's checkpoints, newest first (every branch: forks included)."""
        if await self.control.thread_row(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        out: list[Point] = []
        for run_id in reversed(await self.thread_runs(thread_id)):
            if not metadata:
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
            for point in reversed(points):
                if metadata and not _matches(checkpoint_metadata(thread_id, point), metadata):
                    continue
                out.append(point)
            if len(out) >= limit:
                break
        out.sort(key=lambda p: p.event.seq, reverse=True)
        return out[:limit]

    async def _latest_points(self, run_id: str, limit: int, before: tuple[str, int] | None) -> list[Point]:
        """The points of the run's last ``limit`` checkpoints before ``before``, oldest first: the
        events from the first of them to the end of the last, folded from the state before
        them (the run's nearest snapshot), not the whole run."""
        stream = f"run:{run_id}"
        where, params = _IS_CHECKPOINT, list[Any]([_CHECKPOINTS])
        if before is not None:
            where += " AND seq < %s"
            params.append(before[1])
            at = await self._event_at(stream, before[1])
            if at is not None:  # in this run: a bound the index walk can use
                where += " AND version < %s"
                params.append(at.version)
        rows = await self.store._query(
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE stream_id = %s AND {where} "
            "ORDER BY version DESC LIMIT %s",
            (stream, *params, limit),
        )
        if not rows:
            return []
        wanted = [row_to_event(r) for r in reversed(rows)]
        first, last = wanted[0], wanted[-1]
        following = await self._checkpoint(stream, after_version=last.version)
        if following is not None:
            end = following.seq - 1
        else:
            head = await self._event(stream, "", (), newest=True)
            assert head is not None
            end = head.seq
        parent = await self._checkpoint(stream, before_version=first.version)
        if first.version == 1:
            start = await self._base([first])
            if parent is None:
                parent = await self._parent_of_created(first if first.type == ev.RUN_CREATED else None)
        else:
            start = await self.control.state(run_id, at_seq=first.seq - 1)
            if parent is None:
                created = await self._event(stream, "version = 1", ())
                parent = await self._parent_of_created(
                    created if created and created.type == ev.RUN_CREATED else None
                )
        events = await self.store.read_stream(stream, after_version=first.version - 1, until_seq=end)
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


def _matches(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if isinstance(value, Mapping) and isinstance(actual.get(key), Mapping):
            if not _matches(actual[key], value):
                return False
        elif actual.get(key) != value:
            return False
    return True


def checkpoint_ref(thread_id: str, event: RecordedEvent | None, ns: str = "") -> dict[str, Any] | None:
    if event is None:
        return None
    return {
        "thread_id": thread_id,
        "checkpoint_ns": ns,
        "checkpoint_id": str(event.event_id),
        "checkpoint_map": None,
    }


def checkpoint_step(state: RunState, event: RecordedEvent) -> int:
    """LangGraph's step of a checkpoint: -1 for the input, then the step about to run; the
    final checkpoint comes after the last step (its step is one more)."""
    return state.step + 1 if event.type == ev.RUN_COMPLETED and state.step >= 0 else state.step


def checkpoint_metadata(thread_id: str, point: Point) -> dict[str, Any]:
    st, event = point.state, point.event
    if event.type == ev.RUN_CREATED:
        base = event.data.get("base") or {}
        kind = (event.data.get("kwargs") or {}).get("kind")
        source = "update" if kind == "update_state" else "fork" if base.get("mode") == "fork" else "input"
    else:
        source = _SOURCES.get(event.type, "loop")
    writes: dict[str, Any] | None = None
    if event.type == ev.STATE_UPDATED:
        writes = {event.data.get("as_node") or "__update__": plain(event.data.get("values"))}
    elif event.type == ev.RUN_CREATED and event.data.get("input") is not None:
        writes = {"__input__": plain(event.data.get("input"))}
    return {
        **plain(st.metadata),
        "source": source,
        "step": checkpoint_step(st, event),
        "parents": {},
        "writes": writes,
        "run_id": point.run_id,
        "thread_id": thread_id,
        "graph_id": st.graph_id,
        "assistant_id": st.assistant_id,
        "seq": event.seq,
        "event": event.type,
    }


def thread_state(
    thread_id: str, point: Point | None, *, subgraphs: Mapping[str, Any] | None = None, live: bool = True
) -> dict[str, Any]:
    """LangGraph's ``ThreadState`` for a checkpoint (``None``: a thread without runs). ``live``
    (the current state): ``next`` leaves out the step's finished tasks; a past checkpoint (from
    the history or by id) names every task of its step, as LangGraph does."""
    if point is None:
        return {
            "values": {},
            "next": [],
            "tasks": [],
            "metadata": None,
            "created_at": None,
            "checkpoint": None,
            "parent_checkpoint": None,
            "interrupts": [],
        }
    st = point.state
    failed_task = (st.error or {}).get("task") if st.status is RunStatus.ERROR else None
    tasks = []
    for task in st.tasks:
        result = st.results.get(task.id)
        intrs = [interrupt_json(i) for i in st.interrupts if i.get("task") == task.id]
        error = None
        if failed_task == task.id and st.error:
            error = f"{st.error.get('type', 'Error')}: {st.error.get('message', '')}"
        tasks.append(
            {
                "id": task.id,
                "name": task.node,
                "path": ["__pregel_push", task.index] if task.has_arg else ["__pregel_pull", task.node],
                "error": error,
                "interrupts": intrs,
                "checkpoint": None,
                "state": (subgraphs or {}).get(task.id),
                "result": plain(result.update) if result is not None else None,
            }
        )
    pending = [t.node for t in (st.pending_tasks if live else st.tasks)]
    if st.step < 0 and st.status in (RunStatus.PENDING, RunStatus.RUNNING):
        pending = ["__start__"]
    edits = [r for tid, r in st.results.items() if is_edit(tid)]
    return {
        "values": plain(st.values),
        "next": pending,
        "tasks": tasks,
        "metadata": checkpoint_metadata(thread_id, point),
        "created_at": iso(point.event.recorded_at),
        "checkpoint": checkpoint_ref(thread_id, point.event),
        "parent_checkpoint": checkpoint_ref(thread_id, point.parent),
        "interrupts": [interrupt_json(i) for i in st.interrupts]
        if st.status is RunStatus.INTERRUPTED
        else [],
        "checkpoint_id": str(point.event.event_id),
        "parent_checkpoint_id": str(point.parent.event_id) if point.parent is not None else None,
        # DuraGraph: where this checkpoint is in the event log, and edits waiting for the step.
        "run_id": point.run_id,
        "seq": point.event.seq,
        "status": st.status.value if st.status else None,
        "pending_edits": [plain(r.update) for r in edits],
    }
