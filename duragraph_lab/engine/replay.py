"""Time travel on a run's log: the state at any event, and deterministic re-execution.

Re-execution runs the *current* graph code against a recorded run: for every recorded task, it
calls the node with the state the task saw (folded from the log) and the resume values and model
responses it got (also from the log), and compares the update and routing it produces with the
recorded ones. The first difference is reported (node, step, expected vs actual) — "did my change
alter behaviour on this run?". Node code runs again, so side effects happen again; model calls made
through ``duragraph_lab.llm`` are answered from the log and need no network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, Task, apply
from duragraph_lab.engine.executor import GraphRun, RunStream
from duragraph_lab.engine.memory import MemoryJournal
from duragraph_lab.graph.context import NodeContext
from duragraph_lab.graph.spec import GraphSpec
from duragraph_lab.graph.types import GraphInterrupt


@dataclass(slots=True)
class Divergence:
    step: int
    node: str
    task: str
    field: str  # "update" | "goto" | "error" | "interrupt" | "node"
    expected: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "node": self.node,
            "task": self.task,
            "field": self.field,
            "expected": codec.to_jsonable(self.expected)
            if _encodable(self.expected)
            else repr(self.expected),
            "actual": codec.to_jsonable(self.actual) if _encodable(self.actual) else repr(self.actual),
        }


@dataclass(slots=True)
class ReexecutionReport:
    run_id: str | None
    graph_version: str
    tasks_checked: int = 0
    divergence: Divergence | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.divergence is None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "graph_version": self.graph_version,
            "tasks_checked": self.tasks_checked,
            "identical": self.identical,
            "divergence": self.divergence.to_json() if self.divergence else None,
            "skipped": self.skipped,
        }


def _recorded_calls(data: dict[str, Any], kind: str, task_id: str) -> list[dict[str, Any]]:
    """The model calls a task made: on its result, or (interrupted) on its interrupt entry."""
    if kind == "interrupt":
        entry: dict[str, Any] = next((i for i in data.get("interrupts", []) if i.get("task") == task_id), {})
        return list(entry.get("model_calls", []))
    return list(data.get("model_calls", []))


def _encodable(value: Any) -> bool:
    try:
        codec.to_jsonable(value)
        return True
    except Exception:
        return False


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(codec.to_jsonable(a) == codec.to_jsonable(b))
    except Exception:
        return bool(a == b)


async def reexecute(
    spec: GraphSpec, events: Sequence[RecordedEvent], base: RunState | None = None
) -> ReexecutionReport:
    """Re-run every recorded root task of a run with the current code; report the first divergence."""
    state = base.clone() if base is not None else RunState()
    report = ReexecutionReport(run_id=None, graph_version=spec.version)
    scratch = RunStream(MemoryJournal(worker_id="reexecution"), "reexecution", [], 0)
    for event in events:
        root = event.data.get("ns", "") == ""
        if root and event.type == ev.NODE_FAILED and event.data.get("will_retry"):
            # A failure that was retried (a flaky network, a rate limit) is not behaviour to
            # reproduce; the attempt that completed is compared instead.
            report.skipped.append(
                {"task": event.data.get("task"), "node": event.data.get("node"), "reason": "retried failure"}
            )
        elif root and event.type in (ev.NODE_COMPLETED, ev.NODE_FAILED, ev.RUN_INTERRUPTED):
            divergence = await _check(spec, state, event, scratch, report)
            if divergence is not None:
                report.divergence = divergence
                report.run_id = state.run_id
                return report
        if event.data.get("ns", "") == "":
            apply(state, event)
    report.run_id = state.run_id
    return report


async def _check(
    spec: GraphSpec, state: RunState, event: RecordedEvent, scratch: RunStream, report: ReexecutionReport
) -> Divergence | None:
    d = event.data
    tasks: list[tuple[Task, str]] = []
    if event.type == ev.RUN_INTERRUPTED:
        tasks = [
            (t, "interrupt")
            for i in d.get("interrupts", [])
            if i.get("when") == "during"
            for t in state.tasks
            if t.id == i.get("task")
        ]
    else:
        tasks = [(t, event.type) for t in state.tasks if t.id == d.get("task")]
    for task, kind in tasks:
        node = spec.nodes.get(task.node)
        if node is None:
            return Divergence(
                state.step, task.node, task.id, "node", task.node, "(no such node in the current graph)"
            )
        if node.subgraph is not None:
            # Its inner model calls are recorded in the subgraph's own events; re-running it here
            # would call models for real. Not compared (yet).
            report.skipped.append({"task": task.id, "node": task.node, "reason": "subgraph node"})
            continue
        run = GraphRun(
            spec,
            scratch,
            state.clone(),
            ns="",
            run_id=state.run_id or "reexecution",
            deadline=None,
            config=state.config,
        )
        ctx = NodeContext(
            run_id=state.run_id or "reexecution",
            thread_id=state.thread_id,
            graph_id=spec.name,
            step=state.step,
            node=task.node,
            task_id=task.id,
            attempt=int(d.get("attempt", 1)),
            started_at=time.time(),
            config=state.config,
            resume_values=list(state.resumes.get(task.id, [])),
            replay_calls=_recorded_calls(d, kind, task.id),
        )
        try:
            update, gotos = await run._execute(node, task, ctx)
            outcome: tuple[str, Any] = ("completed", (update, gotos))
        except GraphInterrupt as gi:
            outcome = ("interrupt", gi.interrupt.value)
        except Exception as err:
            outcome = ("error", f"{type(err).__name__}: {err}")
        finally:
            run.close()
        report.tasks_checked += 1
        if kind == ev.NODE_COMPLETED:
            if outcome[0] != "completed":
                return Divergence(state.step, task.node, task.id, outcome[0], "completed", outcome[1])
            update, gotos = outcome[1]
            if not _same(update, d.get("update") or {}):
                return Divergence(state.step, task.node, task.id, "update", d.get("update") or {}, update)
            if not _same(gotos, d.get("goto", [])):
                return Divergence(state.step, task.node, task.id, "goto", d.get("goto", []), gotos)
        elif kind == ev.NODE_FAILED:
            recorded = f"{d.get('error', {}).get('type')}: {d.get('error', {}).get('message')}"
            if outcome[0] != "error" or outcome[1] != recorded:
                return Divergence(state.step, task.node, task.id, "error", recorded, outcome[1])
        else:
            recorded_value = next(
                (i.get("value") for i in d.get("interrupts", []) if i.get("task") == task.id), None
            )
            if outcome[0] != "interrupt" or not _same(outcome[1], recorded_value):
                return Divergence(state.step, task.node, task.id, "interrupt", recorded_value, outcome[1])
    return None
