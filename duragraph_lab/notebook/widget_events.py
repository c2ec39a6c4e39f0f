"""What the notebook widgets send to the browser, computed without one: run events as Arrow IPC
batches (the columns ``extension/src/renderers/events.ts`` reads) and each node's status folded
from the events."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from duragraph_lab.client import Event

#: The columns of an event batch, in order (extension/src/renderers/events.ts reads the same).
EVENT_COLUMNS = (
    "seq",
    "recorded_at",
    "type",
    "node",
    "ns",
    "step",
    "attempt",
    "task",
    "started_at",
    "finished_at",
    "duration_ms",
    "data",
)
NODE_STATUSES = ("pending", "running", "done", "failed", "interrupted")
START, END = "__start__", "__end__"


# -- events as Arrow IPC ---------------------------------------------------------------------------
def _epoch_ms(value: dt.datetime) -> float:
    return value.timestamp() * 1000.0


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def event_rows(events: Iterable[Event]) -> dict[str, list[Any]]:
    """Column lists for :func:`events_to_arrow` (payload as JSON text)."""
    cols: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
    for e in events:
        data = e.data if isinstance(e.data, Mapping) else {}
        cols["seq"].append(e.seq)
        cols["recorded_at"].append(_epoch_ms(e.recorded_at))
        cols["type"].append(e.type)
        cols["node"].append(e.node)
        cols["ns"].append(data.get("ns") or None)
        cols["step"].append(e.step)
        cols["attempt"].append(e.attempt)
        cols["task"].append(e.task)
        cols["started_at"].append(_float(data.get("started_at")))
        cols["finished_at"].append(_float(data.get("finished_at")))
        cols["duration_ms"].append(e.duration_ms)
        cols["data"].append(json.dumps(e.data, default=str, separators=(",", ":")))
    return cols


def events_to_arrow(events: Sequence[Event]) -> bytes:
    """One Arrow IPC stream (schema + one record batch) of ``events``."""
    pa: Any = importlib.import_module("pyarrow")  # no stubs; imported when first needed
    cols = event_rows(events)
    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("recorded_at", pa.float64()),
            ("type", pa.string()),
            ("node", pa.string()),
            ("ns", pa.string()),
            ("step", pa.int32()),
            ("attempt", pa.int32()),
            ("task", pa.string()),
            ("started_at", pa.float64()),
            ("finished_at", pa.float64()),
            ("duration_ms", pa.float64()),
            ("data", pa.string()),
        ]
    )
    batch = pa.record_batch([pa.array(cols[f.name], type=f.type) for f in schema], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


# -- node status from events -----------------------------------------------------------------------
def _node_id(event: Event) -> str | None:
    """The drawn node an event belongs to: the node, or ``outer:inner`` inside a subgraph (as the
    x-ray topology names it); ``ns`` is ``"<node>:<task>:<attempt>|"`` per level."""
    if not event.node:
        return None
    ns = event.data.get("ns") if isinstance(event.data, Mapping) else None
    if not ns:
        return event.node
    outer = [part.split(":", 1)[0] for part in str(ns).split("|") if part]
    return ":".join([*outer, event.node])


class StatusFold:
    """Node status (pending, running, done, failed, interrupted) folded from a run's events."""

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self.status: dict[str, str] = {n: "pending" for n in nodes}

    def _set(self, node: str | None, status: str) -> None:
        if node is not None:
            self.status[node] = status

    def apply(self, event: Event) -> None:
        data = event.data if isinstance(event.data, Mapping) else {}
        ns = data.get("ns") or ""
        kind = event.type
        if kind in ("run_started", "step_planned") and START in self.status and not ns:
            self.status[START] = "done"
        if kind == "step_planned":
            outer = [part.split(":", 1)[0] for part in str(ns).split("|") if part]
            for task in data.get("tasks") or []:
                node = task.get("node") if isinstance(task, Mapping) else None
                if node:
                    self._set(":".join([*outer, node]), "running")
        elif kind == "node_completed":
            self._set(_node_id(event), "done")
        elif kind == "node_failed":
            self._set(_node_id(event), "running" if data.get("will_retry") else "failed")
        elif kind == "run_interrupted":
            for interrupt in data.get("interrupts") or []:
                if (
                    isinstance(interrupt, Mapping)
                    and interrupt.get("node")
                    and interrupt.get("when") != "after"
                ):
                    self._set(str(interrupt["node"]), "interrupted")
            for node, status in self.status.items():
                if status == "running":
                    self.status[node] = "interrupted"
        elif kind == "run_resumed":
            for node, status in self.status.items():
                if status == "interrupted":
                    self.status[node] = "running"
        elif kind == "run_completed" and not ns:
            if END in self.status:
                self.status[END] = "done"
        elif kind in ("run_failed", "run_timed_out", "run_cancelled") and not ns:
            after = "pending" if kind == "run_cancelled" else "failed"
            for node, status in self.status.items():
                if status == "running":
                    self.status[node] = after
