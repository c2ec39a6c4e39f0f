"""Deciding what to append for a run request, a resume or a cancel — with every check made
before anything is written. Shared by in-process runs and the PostgreSQL control plane."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import EncodingError, InvalidEvent
from duragraph_lab.domain.messages import InvalidMessage
from duragraph_lab.domain.run import RunState, RunStatus, check_transition

DEFAULT_RECURSION_LIMIT = 25


class InvalidRunRequest(InvalidEvent):
    code = "invalid_run_request"


def normalize_input(value: Any, channels: Mapping[str, str], what: str = "input") -> dict[str, Any] | None:
    """Check a run's input (or a state update) against the graph's state keys."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRunRequest(f"{what} must be an object of state keys, not {type(value).__name__}")
    unknown = sorted(set(value) - set(channels))
    if unknown:
        raise InvalidRunRequest(
            f"{what} has unknown state key(s) {unknown}; the state has {sorted(channels)}"
        )
    out = {}
    for key, item in value.items():
        if channels[key] == red.ADD_MESSAGES:
            try:
                item = red.normalize_messages(item)
            except InvalidMessage as err:
                raise InvalidRunRequest(f"{what}[{key!r}]: {err}") from None
        out[key] = item
    try:
        codec.to_jsonable(out)
    except EncodingError as err:
        raise InvalidRunRequest(f"{what}: {err}") from None
    return out


def run_created(
    *,
    run_id: str,
    thread_id: str,
    graph_id: str,
    assistant_id: str | None,
    channels: Mapping[str, str],
    nodes: Sequence[str],
    input: Any = None,
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    interrupt_before: Sequence[str] | None = None,
    interrupt_after: Sequence[str] | None = None,
    base: Mapping[str, Any] | None = None,
    update: Any = None,
    as_node: str | None = None,
    goto: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    after_run: str | None = None,
    after_seconds: float | None = None,
    edit: ev.EditRequest | None = None,
    new_thread: bool = False,
) -> NewEvent:
    """The first event of a run, after validating everything a worker would trip over later.

    ``update``/``as_node``: a state edit applied before the run starts (a fork's edit, or
    ``Command(update=...)``). ``goto``: the nodes step 0 runs instead of START's edges (names, or
    ``{"send": node, "arg": value}``). ``kwargs``: the API's request options, recorded as they
    are; ``after_run``: wait for that run; ``after_seconds``: do not start before then;
    ``new_thread``: the run's thread was made for it (so holds nothing else)."""
    config = dict(config or {})
    limit = config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidRunRequest(f"recursion_limit must be a positive integer, not {limit!r}")
    timeout = config.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise InvalidRunRequest(f"timeout must be a positive number of seconds, not {timeout!r}")
    for what, names in (("interrupt_before", interrupt_before), ("interrupt_after", interrupt_after)):
        unknown = [n for n in names or () if n != "*" and n not in nodes]
        if unknown:
            raise InvalidRunRequest(f"{what} names unknown node(s) {unknown}; nodes: {', '.join(nodes)}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidRunRequest("metadata must be an object")
    data: ev.RunCreated = {
        "run_id": run_id,
        "thread_id": thread_id,
        "graph_id": graph_id,
        "assistant_id": assistant_id,
        "channels": dict(channels),
        "input": normalize_input(input, channels),
        "config": config,
        "metadata": dict(metadata or {}),
        "interrupt_before": _interrupt_points(interrupt_before, nodes),
        "interrupt_after": _interrupt_points(interrupt_after, nodes),
        "recursion_limit": limit,
        "timeout": timeout,
        "base": cast("ev.RunBase", dict(base)) if base else None,
    }
    if update is not None:
        if as_node is not None and as_node not in nodes:
            raise InvalidRunRequest(
                f"as_node {as_node!r} is not a node of the graph; nodes: {', '.join(nodes)}"
            )
        data["update"] = normalize_input(update, channels, "update")
        data["as_node"] = as_node
    if goto:
        data["goto"] = entry_gotos(goto, nodes)
    if kwargs is not None:
        data["kwargs"] = dict(kwargs)
    if after_run is not None:
        data["after_run"] = after_run
    if after_seconds:
        data["after_seconds"] = float(after_seconds)
    if new_thread:
        data["new_thread"] = True
    if edit is not None:
        if edit.get("as_node") is not None and edit["as_node"] not in (*nodes, "__start__"):
            raise InvalidRunRequest(
                f"as_node {edit['as_node']!r} is not a node of the graph; nodes: {', '.join(nodes)}"
            )
        data["edit"] = {**edit, "values": normalize_input(edit["values"], channels, "values") or {}}
    try:
        codec.to_jsonable(data)
    except EncodingError as err:
        raise InvalidRunRequest(f"run request: {err}") from None
    return ev.run_created(data)


def entry_gotos(goto: Sequence[Any], nodes: Sequence[str]) -> list[Any]:
    """Validate ``Command(goto=...)`` targets for a run's first step."""
    out: list[Any] = []
    for target in goto:
        if isinstance(target, Mapping) and "send" in target:
            node, arg = target["send"], target.get("arg")
        else:
            node, arg = target, None
        if not isinstance(node, str) or node not in nodes:
            raise InvalidRunRequest(f"goto names unknown node {node!r}; nodes: {', '.join(nodes)}")
        out.append({"send": node, "arg": arg} if isinstance(target, Mapping) else node)
    return out


def update_state(
    state: RunState, values: Any, *, as_node: str | None = None, nodes: Sequence[str] = ()
) -> list[NewEvent]:
    """Edit the state of a paused or finished run (``update_state``): applied through the
    reducers as if ``as_node`` had written it."""
    check_transition(state, ev.STATE_UPDATED)
    if as_node is not None and as_node not in nodes:
        raise InvalidRunRequest(f"as_node {as_node!r} is not a node of the graph; nodes: {', '.join(nodes)}")
    update = normalize_input(values, state.channels, "values")
    return [ev.state_updated(values=update or {}, as_node=as_node)]


def delete(state: RunState) -> list[NewEvent]:
    """Remove a run that is not executing from the read models (its events stay)."""
    check_transition(state, ev.RUN_DELETED)
    return [ev.run_deleted()]


def resume(state: RunState, value: Any = None, *, by_id: Mapping[str, Any] | None = None) -> list[NewEvent]:
    """Resume an interrupted run (raises ``InvalidTransition`` if it is not interrupted).

    ``value`` answers the pending ``interrupt()`` (there must be at most one); ``by_id`` answers
    interrupts by id instead, and an empty ``by_id`` answers none: the run continues past its
    breakpoints and a node that asked asks again (LangGraph's "run with no input")."""
    check_transition(state, ev.RUN_RESUMED)
    asking = [i for i in state.interrupts if i.get("when") == "during"]
    if by_id is None and len(asking) > 1:
        raise InvalidRunRequest(
            f"{len(asking)} interrupts are pending ({', '.join(str(i.get('id')) for i in asking)}): "
            "answer them by id"
        )
    if by_id is not None:
        known = {i.get("id") for i in state.interrupts}
        unknown = sorted(set(by_id) - known)
        if unknown:
            raise InvalidRunRequest(
                f"no pending interrupt with id(s) {unknown}; pending: {sorted(map(str, known))}"
            )
    event = ev.run_resumed(value, by_id=by_id)
    try:
        codec.to_jsonable(event.data)
    except EncodingError as err:
        raise InvalidRunRequest(f"resume value: {err}") from None
    return [event]


def resume_command(state: RunState, value: Any) -> list[NewEvent]:
    """``Command(resume=value)``: a dict whose keys are all pending interrupt ids answers them by
    id; anything else is the answer to the one pending interrupt."""
    pending = {str(i.get("id")) for i in state.interrupts}
    if isinstance(value, Mapping) and value and set(map(str, value)) <= pending:
        return resume(state, None, by_id={str(k): v for k, v in value.items()})
    return resume(state, value)


CANCEL_ACTIONS = ("interrupt", "rollback")


def cancel(
    state: RunState, reason: str = "cancelled by request", action: str = "interrupt"
) -> list[NewEvent]:
    """Cancel: at once if no worker is executing the run, else ask the worker (cooperative).
    ``action="rollback"`` also removes the run from the read models once it has stopped."""
    check_transition(state, ev.RUN_CANCEL_REQUESTED)
    if action not in CANCEL_ACTIONS:
        raise InvalidRunRequest(f"cancel action must be one of {', '.join(CANCEL_ACTIONS)}, not {action!r}")
    requested = ev.run_cancel_requested(
        reason=reason, action="rollback" if action == "rollback" else "interrupt"
    )
    if state.status in (RunStatus.PENDING, RunStatus.INTERRUPTED):
        return [requested, ev.run_cancelled(reason)]
    return [requested]


def new_id() -> str:
    return str(uuid.uuid4())


def _interrupt_points(names: str | Sequence[str] | None, nodes: Sequence[str]) -> list[str]:
    """``"*"`` (alone or in a list, as the HTTP API sends it) means every node."""
    if names == "*" or (not isinstance(names, str) and "*" in (names or ())):
        return list(nodes)
    return [names] if isinstance(names, str) else list(names or [])
