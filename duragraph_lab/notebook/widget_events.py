"""What the notebook widgets send to the browser, computed without one: run events as Arrow IPC
batches (the columns ``extension/src/renderers/events.ts`` reads). Node statuses are not computed
here: the browser folds them from these events (``extension/src/runview/status.ts``, the fold the
dashboard uses too), at whatever event the view shows."""

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
#: The statuses a graph draws (``GraphView.status`` values; extension/src/renderers/graph.ts).
NODE_STATUSES = ("pending", "running", "done", "failed", "interrupted", "cancelled")


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
