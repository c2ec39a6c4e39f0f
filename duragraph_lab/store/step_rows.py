"""A LangGraph step's read models, computed by the worker and written by its append (issue 17).

A worker's step is an append of ``node_completed`` and ``step_planned`` events to its run's
stream. What the events trigger would make of a LangGraph step (``projections/runs.sql``: the
node's span, the run's step; ``projections/langgraph.sql``: the task's writes, the checkpoint and
the version its values are stored at) is a handful of rows whose values are all in the events.
Read out of the events' JSON by PL/pgSQL, through four function calls an event, they cost
PostgreSQL ~90 µs a step more than the rows themselves (``benchmarks.lg_append``); given to the
append, which inserts them in the same statement and leaves those events out of the trigger
(``duragraph.append_run_events``, migration ``0019_step_rows.sql``), they cost what their rows
cost.

:func:`step_rows` gives them only for the events it mirrors the projections of exactly, in the
shapes the LangGraph engine writes; for anything else (another event type, a model call's
tokens, a list stored as an append to an earlier version, a value of an unexpected type, a
native step, which the trigger projects as cheaply) it gives ``None`` and the append is projected
by the trigger as every other append. ``duragraph.rebuild_projections()`` always replays the
projections themselves: ``tests/integration/test_step_rows.py`` checks that the read models
LangGraph and native runs left equal a rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_COMPLETED, _PLANNED = "node_completed", "step_planned"


class ToCompute:
    """The rows of an append, to be computed from its events (the caller has not)."""


TO_COMPUTE = ToCompute()


class _Declined(Exception):
    """The append holds something the projections must read themselves."""


def step_rows(run_id: str, encoded: Sequence[Mapping[str, Any]]) -> str | None:
    """The read-model rows of an append of ``encoded`` events (as encoded for the statement) to
    run ``run_id``'s stream (its canonical UUID text), as the JSON parameter of
    ``duragraph.append_run_events``: per event, what its projection writes (``None``: nothing),
    positionally; ``None`` when the trigger must project them."""
    rows: list[dict[str, Any] | None] = []
    spans: set[tuple[str, str, int]] = set()
    try:
        planned = 0
        for event in encoded:
            kind, data = event.get("type"), event.get("data")
            if not isinstance(data, dict):
                raise _Declined
            row: dict[str, Any] = {}
            if kind == _COMPLETED:
                _completed(data, row, spans)
            elif kind == _PLANNED:
                planned += 1
                if planned > 1:  # one run row updated per statement
                    raise _Declined
                _planned(run_id, data, row)
            else:
                raise _Declined
            rows.append(row or None)
    except _Declined:
        return None
    if not any(row and ("writes" in row or "checkpoint" in row) for row in rows):
        # A native step (a span and the run's step, no LangGraph record): the trigger projects it
        # as cheaply, without the append's longer statement (measured: the native engine's
        # throughput 3.5 % lower with its rows given).
        return None
    return orjson.dumps(rows).decode()


def _completed(data: dict[str, Any], row: dict[str, Any], spans: set[tuple[str, str, int]]) -> None:
    # projections/runs.sql, node_completed: its task's writes (when it holds them), then its span.
    if "langgraph_writes" in data:
        record = _object(data["langgraph_writes"])
        thread, checkpoint = _text(record.get("thread_id")), _text(record.get("checkpoint_id"))
        task = _coalesce(_text(record.get("task_id")), _text(data.get("task")))
        if (
            thread is not None
            and checkpoint is not None
            and task is not None
            and isinstance(record.get("writes"), list)
        ):
            row["writes"] = [thread, _coalesce(_text(record.get("checkpoint_ns")), ""), checkpoint, task]
    if "model_calls" in data:  # the run's token totals: a sum over its spans, left to the trigger
        raise _Declined
    task, node, step = data.get("task"), data.get("node"), data.get("step")
    if not isinstance(task, str) or not isinstance(node, str) or not _is_int(step):
        raise _Declined
    attempt = data.get("attempt", 1)
    attempt = 1 if attempt is None else attempt
    if not _is_int(attempt):
        raise _Declined
    ns = _text(data.get("ns")) or ""
    if (ns, task, attempt) in spans:  # one statement cannot upsert a row twice
        raise _Declined
    spans.add((ns, task, attempt))
    row["span"] = [
        ns,
        task,
        attempt,
        step,
        node,
        _number(data.get("started_at")),
        _number(data.get("finished_at")),
        _number(data.get("duration_ms")),
    ]


def _planned(run_id: str, data: dict[str, Any], row: dict[str, Any]) -> None:
    # projections/langgraph.sql, an lg_checkpoint record inside a step_planned.
    if "langgraph_checkpoint" in data:
        record = _object(data["langgraph_checkpoint"])
        thread = _text(record.get("thread_id"))
        checkpoint = _coalesce(_text(record.get("checkpoint_id")), _text(data.get("checkpoint_id")))
        if thread is not None and checkpoint is not None:
            ns = _coalesce(_text(record.get("checkpoint_ns")), "")
            metadata = record.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                raise _Declined
            run = _text((metadata or {}).get("run_id"))
            if run is None and "metadata_of_run" in record:
                run = run_id
            row["checkpoint"] = [thread, ns, checkpoint, run]
            versions = _blob_versions(record)
            if versions:
                row["versions"] = versions
    # projections/runs.sql, step_planned: the run's step (a subgraph's steps are not the run's).
    if _text(data.get("ns")):
        return
    step = data.get("step")
    if not _is_int(step):
        raise _Declined
    row["step"] = step


def _blob_versions(record: dict[str, Any]) -> list[str]:
    """The versions the record stores values at: one per version, in first-seen order."""
    blobs = record.get("blobs")
    if not isinstance(blobs, dict):
        return []
    for blob in blobs.values():
        # A value stored as an append to an earlier version ({"base": ..., "append": [...]}) is
        # checked against what is stored: the trigger's work.
        if not isinstance(blob, list) or not all(isinstance(part, str) for part in blob):
            raise _Declined
    for key in ("new_versions", "channel_versions"):
        if key in record:
            versions = record[key]
            break
    else:
        inner = record.get("checkpoint")
        versions = inner.get("channel_versions") if isinstance(inner, dict) else None
    if not isinstance(versions, dict):
        return []  # ->> on anything else (JSON null included) reads NULL: no version
    found: dict[str, None] = {}
    for channel in blobs:
        version = versions.get(channel)
        if version is None:
            continue
        if not isinstance(version, str):
            raise _Declined
        found.setdefault(version)
    return list(found)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Declined
    return value


def _coalesce(value: str | None, otherwise: str | None) -> str | None:
    return otherwise if value is None else value


def _text(value: Any) -> str | None:
    """What ``->>`` reads of a JSON string or null; anything else is declined."""
    if value is None or isinstance(value, str):
        return value
    raise _Declined


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Declined
    return value
