"""store/step_rows.py: the rows a step's append writes itself, or None (the trigger projects)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from duragraph_lab.store.step_rows import step_rows

RUN = "9b0c7f5e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def _completed(**data: Any) -> dict[str, Any]:
    base = {
        "task": "t1",
        "node": "s0",
        "step": 0,
        "attempt": 1,
        "started_at": 10.5,
        "finished_at": 11.25,
        "duration_ms": 750.0,
    }
    return {"type": "node_completed", "data": {**base, **data}}


def _planned(**data: Any) -> dict[str, Any]:
    return {"type": "step_planned", "data": {"step": 1, "checkpoint_id": "c1", **data}}


def _checkpoint(**record: Any) -> dict[str, Any]:
    return {
        "thread_id": "th",
        "blobs": {"n": ["msgpack", "AQ=="], "branch:to:s1": ["null", ""]},
        "checkpoint": {"channel_versions": {"n": "v2", "branch:to:s1": "v2", "other": "v1"}},
        "metadata_of_run": True,
        **record,
    }


def _rows(*events: dict[str, Any]) -> Any:
    text = step_rows(RUN, list(events))
    return None if text is None else json.loads(text)


def test_a_langgraph_step_gives_each_events_rows_in_place() -> None:
    writes = {"thread_id": "th", "checkpoint_id": "c0", "writes": [[0, "n", "update"]], "task_path": "~p"}
    rows = _rows(_completed(langgraph_writes=writes), _planned(langgraph_checkpoint=_checkpoint()))
    assert rows == [
        {"writes": ["th", "", "c0", "t1"], "span": ["", "t1", 1, 0, "s0", 10.5, 11.25, 750.0]},
        {"checkpoint": ["th", "", "c1", RUN], "versions": ["v2"], "step": 1},
    ]


def test_what_the_projections_read_from_elsewhere_is_read_from_there_too() -> None:
    # A writes record's own task id, namespace; a checkpoint's own id and run, new_versions first.
    writes = {
        "thread_id": "th",
        "checkpoint_id": "c0",
        "checkpoint_ns": "inner:1",
        "task_id": "own",
        "writes": [],
    }
    record = _checkpoint(
        checkpoint_id="own-c", checkpoint_ns="inner:1", metadata={"run_id": "r-9"}, new_versions={"n": "v3"}
    )
    rows = _rows(
        _completed(langgraph_writes=writes, ns="inner:1", attempt=None),
        _planned(langgraph_checkpoint=record, ns="inner:1"),
    )
    assert rows == [
        {"writes": ["th", "inner:1", "c0", "own"], "span": ["inner:1", "t1", 1, 0, "s0", 10.5, 11.25, 750.0]},
        # a subgraph's step is not the run's: no step
        {"checkpoint": ["th", "inner:1", "own-c", "r-9"], "versions": ["v3"]},
    ]
    # No run named anywhere: none. Versions stored as JSON null: no version.
    record = _checkpoint(channel_versions=None)
    del record["metadata_of_run"]
    assert _rows(_planned(langgraph_checkpoint=record)) == [{"checkpoint": ["th", "", "c1", None], "step": 1}]


def test_a_step_without_a_langgraph_record_is_left_to_the_trigger() -> None:
    # A native step: the trigger projects its span and step as cheaply.
    assert _rows(_completed(update={"n": 1}), _planned()) is None
    # Records the projections skip (no thread) write no row: nothing LangGraph's left either.
    assert _rows(_completed(langgraph_writes={"checkpoint_id": "c0", "writes": []})) is None
    # ... but beside a checkpoint, the span stays.
    writes = {"checkpoint_id": "c0", "writes": []}
    assert _rows(_completed(langgraph_writes=writes), _planned(langgraph_checkpoint=_checkpoint())) == [
        {"span": ["", "t1", 1, 0, "s0", 10.5, 11.25, 750.0]},
        {"checkpoint": ["th", "", "c1", RUN], "versions": ["v2"], "step": 1},
    ]


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([], id="nothing"),
        pytest.param([{"type": "run_completed", "data": {}}], id="another type"),
        pytest.param([_completed(), {"type": "run_completed", "data": {}}], id="a step and the run's end"),
        pytest.param(
            [_completed(model_calls=[{"usage": {"input_tokens": 3}}])], id="model calls: token totals"
        ),
        pytest.param([_completed(model_calls=[])], id="model calls, none"),
        pytest.param([_completed(), _completed()], id="one span twice"),
        pytest.param([_planned(), _planned()], id="two steps"),
        pytest.param([_completed(step=True)], id="a step that is a boolean"),
        pytest.param([_completed(task=7)], id="a task that is not text"),
        pytest.param([_completed(started_at="10")], id="a clock reading that is not a number"),
        pytest.param([_completed(ns=3)], id="a namespace that is not text"),
        pytest.param([_planned(step="1")], id="a step that is text"),
        pytest.param([_completed(langgraph_writes=[1])], id="writes that are not a record"),
        pytest.param(
            [_planned(langgraph_checkpoint=_checkpoint(blobs={"n": {"base": "v1", "append": [1]}}))],
            id="a list stored as an append: checked by the trigger",
        ),
        pytest.param([_planned(langgraph_checkpoint=_checkpoint(metadata=[]))], id="metadata not a record"),
        pytest.param(
            [_planned(langgraph_checkpoint=_checkpoint(new_versions={"n": 2}))], id="a version not text"
        ),
        pytest.param([{"type": "node_completed", "data": None}], id="no data"),
    ],
)
def test_anything_else_is_left_to_the_trigger(events: list[dict[str, Any]]) -> None:
    assert step_rows(RUN, events) is None
