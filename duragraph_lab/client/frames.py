"""Event logs and spans as pandas DataFrames (pandas is imported when first needed).

Columns are typed: timestamps ``datetime64[ns, UTC]``, low-cardinality strings (``type``,
``node``, ``status``, ``stream``) categorical, step/attempt nullable integers (``Int64``),
durations float milliseconds; ``data`` holds each event's payload (a dict).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from duragraph_lab.client.models import Event, Span

#: ``pandas.DataFrame`` (pandas ships no type information: mypy sees Any).
DataFrame = Any

EVENT_COLUMNS = (
    "seq",
    "recorded_at",
    "stream",
    "run_id",
    "event_id",
    "type",
    "node",
    "task",
    "step",
    "attempt",
    "duration_ms",
    "data",
)
SPAN_COLUMNS = (
    "seq",
    "run_id",
    "ns",
    "node",
    "task",
    "step",
    "attempt",
    "status",
    "started_at",
    "ended_at",
    "duration_ms",
    "error",
)


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as err:  # pragma: no cover - pandas is a dependency of duragraph-lab
        raise ImportError("DataFrames need pandas: pip install pandas") from err


def _timestamps(pd: Any, values: list[Any]) -> Any:
    # Aware datetimes to nanosecond UTC (pandas 3 would otherwise pick microseconds).
    return pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")


def events_to_frame(events: Iterable[Event]) -> DataFrame:
    """One row per event, in the order given (the log's: by ``seq``)."""
    pd = _pandas()
    rows = list(events)
    frame = pd.DataFrame(
        {
            "seq": pd.Series([e.seq for e in rows], dtype="int64"),
            "recorded_at": _timestamps(pd, [e.recorded_at for e in rows]),
            "stream": pd.Series([e.stream for e in rows], dtype="category"),
            "run_id": pd.Series([e.run_id for e in rows], dtype="object"),
            "event_id": pd.Series([e.event_id for e in rows], dtype="object"),
            "type": pd.Series([e.type for e in rows], dtype="category"),
            "node": pd.Series([e.node for e in rows], dtype="category"),
            "task": pd.Series([e.task for e in rows], dtype="object"),
            "step": pd.Series([e.step for e in rows], dtype="Int64"),
            "attempt": pd.Series([e.attempt for e in rows], dtype="Int64"),
            "duration_ms": pd.Series([e.duration_ms for e in rows], dtype="float64"),
            "data": pd.Series([e.data for e in rows], dtype="object"),
        },
        columns=list(EVENT_COLUMNS),
    )
    return frame


def spans_to_frame(spans: Iterable[Span]) -> DataFrame:
    """One row per node execution (one attempt of one task), in the order given."""
    pd = _pandas()
    rows = list(spans)
    frame = pd.DataFrame(
        {
            "seq": pd.Series([s.seq for s in rows], dtype="Int64"),
            "run_id": pd.Series([s.run_id for s in rows], dtype="object"),
            "ns": pd.Series([s.ns for s in rows], dtype="category"),
            "node": pd.Series([s.node for s in rows], dtype="category"),
            "task": pd.Series([s.task for s in rows], dtype="object"),
            "step": pd.Series([s.step for s in rows], dtype="int64"),
            "attempt": pd.Series([s.attempt for s in rows], dtype="int64"),
            "status": pd.Series([s.status for s in rows], dtype="category"),
            "started_at": _timestamps(pd, [s.started_at for s in rows]),
            "ended_at": _timestamps(pd, [s.ended_at for s in rows]),
            "duration_ms": pd.Series([s.duration_ms for s in rows], dtype="float64"),
            "error": pd.Series([s.error for s in rows], dtype="object"),
        },
        columns=list(SPAN_COLUMNS),
    )
    return frame
