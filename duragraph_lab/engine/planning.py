"""Turning node outputs into recorded updates and the next superstep's tasks.

Everything here is deterministic given its inputs, and everything user code decided (updates,
router results, Command gotos, custom reducer results) ends up in the log, so that a reader can
fold the run without the code and a re-execution can compare against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.errors import EncodingError
from duragraph_lab.domain.messages import InvalidMessage
from duragraph_lab.domain.run import Task
from duragraph_lab.engine.errors import InvalidUpdateError
from duragraph_lab.graph.spec import BranchSpec, GraphSpec, join_key
from duragraph_lab.graph.types import END, Command, Send

Goto = str | dict[str, Any]  # a node name, or {"send": node, "arg": ...}


def normalize_update(
    update: Any, channels: Mapping[str, str], *, writer: str, id_seed: str
) -> dict[str, Any]:
    """Check a node's update and make it recordable: known keys only, messages with ids, and
    values the codec can store. Raises :class:`InvalidUpdateError` naming the writer."""
    if update is None:
        return {}
    if not isinstance(update, Mapping):
        raise InvalidUpdateError(
            f"{writer} returned {type(update).__name__}; expected a dict of state updates, a Command or None"
        )
    out: dict[str, Any] = {}
    for key, value in update.items():
        kind = channels.get(key)
        if kind is None:
            raise InvalidUpdateError(
                f"{writer} wrote unknown state key {key!r}; the state has {sorted(channels)}"
            )
        if kind == red.ADD_MESSAGES:

            def make_id(i: int, k: str = key) -> str:
                # Derived from the task: a re-executed task produces the same message ids.
                return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{id_seed}/{k}/{i}"))

            try:
                value = red.normalize_messages(value, make_id)
            except InvalidMessage as err:
                raise InvalidUpdateError(f"{writer} wrote an invalid message to {key!r}: {err}") from None
        out[key] = value
    try:
        codec.to_jsonable(out)
    except EncodingError as err:
        raise InvalidUpdateError(f"{writer} wrote a value that cannot be stored: {err}") from None
    return out


def goto_json(target: str | Send, spec: GraphSpec, who: str) -> Goto:
    """Validate one routing target and give its recorded form."""
    if isinstance(target, Send):
        if target.node not in spec.nodes:
            raise InvalidUpdateError(
                f"{who} sent to unknown node {target.node!r}; nodes: {', '.join(spec.nodes)}"
            )
        return {"send": target.node, "arg": target.arg}
    if not isinstance(target, str):
        raise InvalidUpdateError(f"{who} returned {target!r}; expected a node name, END or Send")
    if target != END and target not in spec.nodes:
        raise InvalidUpdateError(f"{who} returned unknown node {target!r}; nodes: {', '.join(spec.nodes)}")
    return target


def router_targets(branch: BranchSpec, result: Any, spec: GraphSpec) -> list[Goto]:
    """What a router's return value means, as recorded routing targets."""
    who = f"router {branch.name!r} after {branch.source!r}"
    items = result if isinstance(result, (list, tuple)) else [result]
    out: list[Goto] = []
    for item in items:
        if branch.path_map is not None and not isinstance(item, Send):
            try:
                item = branch.path_map[item]
            except (KeyError, TypeError):
                raise InvalidUpdateError(
                    f"{who} returned {item!r}, which is not in its path map {list(branch.path_map)}"
                ) from None
        out.append(goto_json(item, spec, who))
    return out


def command_parts(result: Any, spec: GraphSpec, node: str) -> tuple[Any, list[Goto]]:
    """Split a node's return value into (update, gotos)."""
    if isinstance(result, Command):
        _check_command(result, node)
        gotos = [goto_json(t, spec, f"node {node!r} (Command.goto)") for t in result.goto_list()]
        return result.update, gotos
    if (
        isinstance(result, Sequence)
        and not isinstance(result, (str, bytes))
        and result
        and all(isinstance(r, Command) for r in result)
    ):
        merged: dict[str, Any] = {}
        targets: list[Goto] = []
        for command in result:
            _check_command(command, node)
            if command.update:
                merged.update(command.update)
            targets += [goto_json(t, spec, f"node {node!r} (Command.goto)") for t in command.goto_list()]
        return merged, targets
    return result, []


def _check_command(command: Command[Any], node: str) -> None:
    if command.graph is not None:
        raise InvalidUpdateError(
            f"node {node!r} returned Command(graph={command.graph!r}): routing into a parent graph is not supported; "
            "route with the subgraph's own edges and let it end"
        )
    if command.resume is not None:
        raise InvalidUpdateError(
            f"node {node!r} returned Command(resume=...): resume is given as a run's input"
        )


def plan_next(
    spec: GraphSpec,
    step: int,
    finished: Sequence[tuple[Task, Sequence[Goto]]],
    barriers: Mapping[str, Sequence[str]],
) -> tuple[list[Task], dict[str, list[str]]]:
    """The tasks of superstep ``step`` given the previous step's finished tasks (in plan order)
    and their routing, plus the updated join barriers.

    A node triggered several times in one step runs once (its triggers listed); every Send is a
    task of its own. A join target runs once all its sources have finished since it last ran.
    """
    triggered: dict[str, list[str]] = {}
    sends: list[tuple[str, Any, str]] = []
    pending_joins = {k: list(v) for k, v in barriers.items()}

    def trigger(node: str, by: str) -> None:
        if node != END:
            triggered.setdefault(node, []).append(by)

    for task, gotos in finished:
        source = task.node
        for target in spec.out_edges(source):
            trigger(target, source)
        for goto in gotos:
            if isinstance(goto, dict):
                sends.append((goto["send"], goto.get("arg"), source))
            else:
                trigger(goto, source)
        for sources, target in spec.joins_waiting_on(source):
            key = join_key(sources, target)
            seen = pending_joins.setdefault(key, [])
            if source not in seen:
                seen.append(source)
            if set(sources) <= set(seen):
                trigger(target, key)
                pending_joins[key] = []
    tasks = [
        Task(id=f"{step}.{i}", node=node, index=i, triggers=by)
        for i, (node, by) in enumerate(triggered.items())
    ]
    for node, arg, by in sends:
        i = len(tasks)
        tasks.append(Task(id=f"{step}.{i}", node=node, index=i, arg=arg, has_arg=True, triggers=[by]))
    return tasks, {k: v for k, v in pending_joins.items() if v}


def start_task() -> Task:
    """The pseudo-task whose "routing" is the graph's entry: edges and routers from START."""
    return Task(id="start", node="__start__", index=0)


def changed_custom_values(
    before: Mapping[str, Any], after: Mapping[str, Any], custom_keys: Sequence[str]
) -> dict[str, Any]:
    return {k: after[k] for k in custom_keys if k in after and (k not in before or before[k] is not after[k])}


def subgraph_update(
    child_channels: Mapping[str, str],
    parent_channels: Mapping[str, str],
    child_input: Mapping[str, Any],
    child_output: Mapping[str, Any],
) -> dict[str, Any]:
    """A subgraph's contribution to its parent: the shared keys it changed, as deltas where the
    parent's reducer would otherwise double them (appended list items, new messages)."""
    update: dict[str, Any] = {}
    for key, value in child_output.items():
        if key not in parent_channels:
            continue
        before = child_input.get(key)
        if key in child_input and before == value:
            continue
        kind = parent_channels[key]
        if (
            kind == red.ADD
            and isinstance(before, list)
            and isinstance(value, list)
            and value[: len(before)] == before
        ):
            update[key] = value[len(before) :]
        elif kind == red.ADD_MESSAGES and isinstance(before, list) and isinstance(value, list):
            update[key] = [m for m in value if m not in before]
        else:
            update[key] = value
    return update


CallRouter = Callable[[BranchSpec, dict[str, Any]], Any]
