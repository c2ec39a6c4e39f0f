"""What a run did, as evaluators see it (``GET /runs/{run_id}/outcome``): its status, inputs,
outputs, nodes, trajectory, tool calls, latency and steps, read from the run's row and its event
log. Dataset versions freeze outcomes into examples; experiments score them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import as_uuid
from duragraph_lab.domain.plain import iso, plain
from duragraph_lab.domain.run import RunState


@dataclass(frozen=True, slots=True)
class RunFacts:
    """A run as the ``runs`` read model has it."""

    run_id: str
    thread_id: str | None
    assistant_id: str | None
    graph_id: str
    status: str
    error: Any
    metadata: Any
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class RunFactsReadModel(Protocol):
    async def run(self, run_id: str) -> RunFacts | None: ...


class RunHistory(Protocol):
    """A run's log and the state it folds to (the run control plane)."""

    async def run_events(self, run_id: str) -> list[RecordedEvent]: ...

    async def state(self, run_id: str) -> RunState: ...


class Outcomes:
    def __init__(self, facts: RunFactsReadModel, history: RunHistory) -> None:
        self.facts = facts
        self.history = history

    async def get(self, run_id: str) -> dict[str, Any]:
        rid = as_uuid(run_id)
        if rid is None:
            raise NotFound(f"run {run_id} does not exist (not a UUID)")
        run = await self.facts.run(rid)
        if run is None:
            raise NotFound(f"run {run_id} does not exist")
        events = await self.history.run_events(run.run_id)
        state = await self.history.state(run.run_id)
        nodes = [
            {
                "step": e.data.get("step"),
                "node": e.data.get("node"),
                "ns": e.data.get("ns") or "",
                "duration_ms": e.data.get("duration_ms"),
                "update": plain(e.data.get("update")),
            }
            for e in events
            if e.type == ev.NODE_COMPLETED
        ]
        created_event = next((e for e in events if e.type == ev.RUN_CREATED), None)
        root = [n for n in nodes if not n["ns"]]
        return {
            "run_id": run.run_id,
            "thread_id": run.thread_id,
            "assistant_id": run.assistant_id,
            "graph_id": run.graph_id,
            "status": run.status,
            "inputs": plain(created_event.data.get("input")) if created_event else None,
            "outputs": plain(state.values),
            "error": _error_text(run.error),
            "metadata": plain(run.metadata or {}),
            "nodes": nodes,
            "trajectory": [
                str(n["node"]) for n in sorted(root, key=lambda n: (n["step"] or 0, str(n["node"])))
            ],
            "tool_calls": _tool_calls(nodes),
            "latency_ms": _ms(run.created_at, run.ended_at),
            "steps": len({n["step"] for n in root}),
            "created_at": iso(run.created_at),
            "started_at": iso(run.started_at),
            "ended_at": iso(run.ended_at),
        }


def _ms(start: Any, end: Any) -> float | None:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return None
    return round((end - start).total_seconds() * 1000.0, 3)


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    if isinstance(error, Mapping):
        kind, message = error.get("error") or error.get("type"), error.get("message")
        if kind and message:
            return f"{kind}: {message}"
        return str(message or kind or json.dumps(plain(error)))
    return str(error)


def _tool_calls(nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Tool names in the order the model asked for them (from the AI messages nodes wrote)."""
    names: list[str] = []
    for node in nodes:
        update = node.get("update")
        messages = update.get("messages") if isinstance(update, Mapping) else None
        if not isinstance(messages, list):
            continue
        for message in messages:
            calls = message.get("tool_calls") if isinstance(message, Mapping) else None
            for call in calls or []:
                if isinstance(call, Mapping) and call.get("name"):
                    names.append(str(call["name"]))
    return names
