"""A state edit made with the graph's code at hand (LangGraph's ``update_state`` semantics).

The edit is applied as if ``as_node`` had just completed: its custom-reducer keys reduced, and
the step that follows it planned from its static edges and its routers evaluated on the edited
state. Both results are recorded in the ``state_updated`` event, so that readers fold the edit
without the code. Used by whoever has the code: the API server's in-process worker, or a worker
executing an edit request for an API server that does not have it.
"""

from __future__ import annotations

from typing import Any

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.reducers import CUSTOM
from duragraph_lab.domain.run import RunState, RunStatus, Task, apply_edit, is_edit
from duragraph_lab.engine import planning
from duragraph_lab.engine.commands import InvalidRunRequest, normalize_input
from duragraph_lab.graph.spec import GraphSpec
from duragraph_lab.graph.types import START

AMBIGUOUS = "Ambiguous update, specify as_node"


def infer_as_node(state: RunState, spec: GraphSpec) -> str:
    """LangGraph's rule for an edit without ``as_node``: START on a fresh thread or a state only
    the input wrote (LangGraph's ``__start__`` node, which counts among its nodes, so this comes
    before the one-node rule); the graph's only node; else the node that wrote last, unless
    several wrote together."""
    writers = set(state.last_writers)
    if not writers:
        return START
    if len(spec.nodes) == 1:
        return next(iter(spec.nodes))
    if len(writers) == 1:
        return writers.pop()
    raise InvalidRunRequest(AMBIGUOUS)


def routes_edit(state: RunState) -> bool:
    """Whether an edit of ``state`` decides the next step: not when the run stopped in the middle
    of a step with some tasks finished (the edit then waits for that step, whose writes stand)."""
    return not any(not is_edit(t) for t in state.results)


async def edit_event(
    spec: GraphSpec,
    state: RunState,
    values: Any,
    as_node: str | None,
    *,
    subject: str = "values",
    paused: bool | None = None,
) -> NewEvent:
    """The ``state_updated`` event of an edit of ``state`` (the caller checks that the run may
    take it), with its custom-reducer keys reduced and its next step planned. ``paused``: whether
    the edited run waits at an interrupt (default: ``state``'s status says)."""
    update = normalize_input(values, state.channels, subject) or {}
    # Paused in the middle of a step (some of its tasks finished, one interrupted): as LangGraph
    # does, the edit replaces that step. It applies to the state the step started from (the
    # finished tasks' writes are dropped, as LangGraph drops a checkpoint's pending writes), and
    # what as_node leads to (without it: the step's own writers) runs next, asking again.
    if paused is None:
        paused = state.status is RunStatus.INTERRUPTED
    replaces_step = not routes_edit(state) and paused
    mid_step = not routes_edit(state) and not replaces_step
    if as_node is not None and as_node != START and as_node not in spec.nodes:
        raise InvalidRunRequest(_unknown(as_node, spec))
    # Stopped mid-step otherwise (failed, cancelled): applied at once, reduced, not rerouted.
    writer = as_node if as_node is not None else "__update__" if mid_step else infer_as_node(state, spec)
    custom = [k for k in update if state.channels.get(k) == CUSTOM and k in spec.reducers]
    try:
        after = apply_edit(state.values, writer, update, state.channels, custom=spec.reducers)
    except Exception as err:
        raise InvalidRunRequest(f"the update was refused: {type(err).__name__}: {err}") from err
    recorded = {**update, **{k: after[k] for k in custom}}
    if mid_step:
        return ev.state_updated(values=recorded, as_node=as_node, reduced=custom)
    try:
        gotos: list[planning.Goto] = []
        for branch in spec.branches_from(writer):
            args = (after, state.config) if branch.takes_config else (after,)
            result = await branch.router(*args) if branch.is_async else branch.router(*args)
            gotos += planning.router_targets(branch, result, spec)
        source = planning.start_task() if writer == START else Task(id="edit", node=writer, index=0)
        tasks, barriers = planning.plan_next(spec, state.step + 1, [(source, gotos)], state.barriers)
    except InvalidRunRequest:
        raise
    except Exception as err:
        raise InvalidRunRequest(
            f"routing after {writer!r} failed on the updated state: {type(err).__name__}: {err}"
        ) from err
    plan: ev.EditPlan | None = {
        "step": state.step + 1,
        "tasks": [t.to_json() for t in tasks],
        "barriers": barriers,
    }
    if not replaces_step and (_same_step(state, tasks) or not (tasks or state.pending_tasks)):
        plan = None  # what was pending stays pending, with its interrupts and resume values
    return ev.state_updated(values=recorded, as_node=writer, reduced=custom, next=plan)


def _same_step(state: RunState, tasks: list[Task]) -> bool:
    pending = state.pending_tasks
    if not pending:
        return False

    def key(t: Task) -> tuple[str, bool, str]:
        return (t.node, t.has_arg, repr(t.arg))

    return sorted(map(key, pending)) == sorted(map(key, tasks))


def _unknown(as_node: str, spec: GraphSpec) -> str:
    return f"as_node {as_node!r} is not a node of the graph; nodes: {', '.join(spec.nodes)}"


def resting_event(rest: dict[str, Any]) -> NewEvent:
    """The event by which the edited run had come to rest, for an edit request run to mirror it
    (so that, with its edit, it is the thread's head exactly as the edited run would have been)."""
    status = rest.get("status")
    if status == "interrupted":
        return ev.run_interrupted(
            step=int(rest.get("step", 0)), interrupts=list(rest.get("interrupts") or [])
        )
    if status == "error":
        return ev.run_failed(dict(rest.get("error") or {"type": "Error", "message": ""}))
    if status == "timeout":
        return ev.run_timed_out(rest.get("timeout"))
    if status == "cancelled":
        return ev.run_cancelled("mirrors the cancelled run it edits")
    return ev.run_completed()


async def edit_request_events(spec: GraphSpec, state: RunState) -> list[NewEvent]:
    """What a worker serving the graph commits for an edit request run (after its start): the
    edited run's resting event, then the edit — or, if the graph's code refuses it, the refusal
    (the thread's state then stays as it was)."""
    request = state.edit_request or {}
    rest = dict(request.get("rest") or {})
    try:
        edit = await edit_event(
            spec,
            state,
            request.get("values") or {},
            request.get("as_node"),
            paused=rest.get("status") == "interrupted",
        )
    except InvalidRunRequest as err:
        return [resting_event(rest), ev.edit_refused(error={"type": type(err).__name__, "message": str(err)})]
    return [resting_event(rest), edit]
