"""Checkpoints, thread state and history in LangGraph's shapes (``ThreadState``, checkpoint
metadata, checkpoint references), from the control plane's :class:`~duragraph_lab.control.checkpoints.Point`
values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.control.checkpoints import Point
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, RunStatus, is_edit

_SOURCES = {ev.STEP_PLANNED: "loop", ev.RUN_COMPLETED: "loop", ev.STATE_UPDATED: "update"}


def interrupt_json(intr: Mapping[str, Any]) -> dict[str, Any]:
    """An interrupt as the API shows it: a LangGraph run's as LangGraph serializes its
    ``Interrupt`` (``value``, ``id`` and its other fields, e.g. ``response_schema``); a native
    run's with DuraGraph's ``when`` and ``node``."""
    out = {"value": plain(intr.get("value")), "id": str(intr.get("id"))}
    fields = intr.get("fields")
    if isinstance(fields, Mapping):
        return {**out, **plain(fields)}
    for key in ("when", "node"):
        if intr.get(key) is not None:
            out[key] = intr[key]
    return out


def shown_interrupts(interrupts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The interrupts LangGraph would show (``__interrupt__``, a state's ``interrupts``): all of
    them but a LangGraph run's breakpoints, which LangGraph shows no ``Interrupt`` for."""
    return [interrupt_json(i) for i in interrupts if not ("fields" in i and i["fields"] is None)]


def thread_interrupts(state: RunState | None) -> dict[str, list[dict[str, Any]]]:
    """Pending interrupts by task id (LangGraph's ``Thread.interrupts``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if state is None or state.status is not RunStatus.INTERRUPTED:
        return out
    for intr in state.interrupts:
        if "fields" in intr and intr["fields"] is None:
            continue  # a LangGraph breakpoint: no Interrupt (see shown_interrupts)
        key = str(intr.get("task") or f"{state.step}:{intr.get('node')}")
        out.setdefault(key, []).append(interrupt_json(intr))
    return out


def metadata_filter(thread_id: str, wanted: Mapping[str, Any]) -> Callable[[Point], bool]:
    """Whether a checkpoint's metadata (as :func:`checkpoint_metadata` shows it) holds ``wanted``."""
    return lambda point: _matches(checkpoint_metadata(thread_id, point), wanted)


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
    thread_id: str,
    point: Point | None,
    *,
    subgraphs: Mapping[str, Any] | None = None,
    live: bool = True,
    reducers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """LangGraph's ``ThreadState`` for a checkpoint (``None``: a thread without runs). ``live``
    (the current state): ``next`` leaves out the step's finished tasks and ``values`` have their
    writes applied, as LangGraph's ``get_state`` applies a checkpoint's pending writes; a past
    checkpoint (from the history or by id) names every task of its step and shows the values
    the step started from, as LangGraph does. ``reducers``: the graph's custom reducers, when
    this process has its code (without them a custom-reducer key keeps the step's start)."""
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
        intrs = shown_interrupts(i for i in st.interrupts if i.get("task") == task.id)
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
        "values": plain(live_values(st, reducers) if live else st.values),
        "next": pending,
        "tasks": tasks,
        "metadata": checkpoint_metadata(thread_id, point),
        "created_at": iso(point.event.recorded_at),
        "checkpoint": checkpoint_ref(thread_id, point.event, point.ns),
        "parent_checkpoint": checkpoint_ref(thread_id, point.parent),
        "interrupts": shown_interrupts(st.interrupts) if st.status is RunStatus.INTERRUPTED else [],
        "checkpoint_id": str(point.event.event_id),
        "parent_checkpoint_id": str(point.parent.event_id) if point.parent is not None else None,
        # DuraGraph: where this checkpoint is in the event log, and edits waiting for the step.
        "run_id": point.run_id,
        "seq": point.event.seq,
        "status": st.status.value if st.status else None,
        "pending_edits": [plain(r.update) for r in edits],
        # A LangGraph graph's step: the id LangGraph gave its checkpoint (accepted wherever a
        # checkpoint id is: get_state, runs at a checkpoint).
        "langgraph_checkpoint_id": point.event.data.get("checkpoint_id")
        if point.event.type == ev.STEP_PLANNED
        else None,
    }


def live_values(st: RunState, reducers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values with the current step's finished tasks' writes applied in plan order (their
    reducers; edits waiting for the step after them), as the step's end will apply them."""
    if not any(not is_edit(tid) for tid in st.results):
        return st.values
    try:
        return st.apply_results(custom=reducers)
    except Exception:  # writes that conflict (a replace key twice) fail the step when it ends
        return st.values


def subgraph_states(thread_id: str, points: Mapping[str, Point]) -> dict[str, dict[str, Any]]:
    """The ``ThreadState`` of each subgraph a checkpoint's tasks run, by task id."""
    return {task_id: thread_state(thread_id, point) for task_id, point in points.items()}
