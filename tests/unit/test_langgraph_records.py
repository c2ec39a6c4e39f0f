"""A run's LangGraph records inside the run events that record them (merge_langgraph_records):
one event where there were two, and only where the pairing is certain."""

from __future__ import annotations

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent


def _checkpoint(checkpoint_id: str, ns: str = "") -> NewEvent:
    return ev.lg_checkpoint(
        thread_id="t",
        checkpoint_ns=ns,
        checkpoint_id=checkpoint_id,
        parent_checkpoint_id=None,
        metadata={"step": 1, "source": "loop"},
        checkpoint={"v": 4, "id": checkpoint_id, "channel_versions": {"n": "2"}},
        new_versions=None,
        blobs={"n": ("json", b"2")},
    )


def _writes(task_id: str, ns: str = "") -> NewEvent:
    return ev.lg_writes(
        thread_id="t",
        checkpoint_ns=ns,
        checkpoint_id="c0",
        task_id=task_id,
        task_path="~__pregel_pull, a",
        # n: the node's update says it (the same JSON); m: not the same (3 vs 3.0); k: serialized.
        writes=[(0, "n", ev.Plain(2)), (1, "m", ev.Plain(3)), (2, "k", ("json", b"2"))],
        upsert=False,
    )


def _planned(checkpoint_id: str, ns: str = "") -> NewEvent:
    return ev.step_planned(
        step=1, tasks=[], barriers={}, custom_values={}, checkpoint_id=checkpoint_id, ns=ns
    )


def _completed(task: str, ns: str = "") -> NewEvent:
    return ev.node_completed(
        step=0,
        task=task,
        node="a",
        attempt=1,
        update={"n": 2, "m": 3.0},
        goto=[],
        started_at=1.0,
        finished_at=1.5,
        ns=ns,
    )


def test_a_step_of_one_task_is_two_events_holding_the_records() -> None:
    writes, completed, checkpoint, planned = (
        _writes("t1"),
        _completed("t1"),
        _checkpoint("c1"),
        _planned("c1"),
    )
    merged = ev.merge_langgraph_records([writes, completed, checkpoint, planned])
    assert [e.type for e in merged] == [ev.NODE_COMPLETED, ev.STEP_PLANNED]
    done, step = merged
    # The run events keep their ids and payloads, and hold the records' payloads without what
    # they say already: the checkpoint's id (twice) and namespace, the task, the namespace,
    # upsert false, a value that is the update's.
    assert done.event_id == completed.event_id and step.event_id == planned.event_id
    assert {k: v for k, v in done.data.items() if k != ev.NODE_WRITES} == dict(completed.data)
    assert done.data[ev.NODE_WRITES] == {
        "thread_id": "t",
        "checkpoint_id": "c0",
        "task_path": "~__pregel_pull, a",
        "writes": [[0, "n", "update"], [1, "m", "plain", 3], [2, "k", "json", "Mg=="]],
    }
    assert step.data[ev.STEP_CHECKPOINT] == {
        k: v for k, v in checkpoint.data.items() if k not in ("checkpoint_id", "checkpoint_ns", "checkpoint")
    } | {"checkpoint": {"v": 4, "channel_versions": {"n": "2"}}}
    # Readers find the records whole in either form.
    assert ev.writes_of(done.type, done.data) == writes.data == ev.writes_of(writes.type, writes.data)
    assert ev.checkpoint_of(step.type, step.data) == checkpoint.data
    assert ev.checkpoint_of(checkpoint.type, checkpoint.data) == checkpoint.data
    assert ev.records_langgraph(done.type, done.data) and ev.records_langgraph(step.type, step.data)
    assert not ev.records_langgraph(completed.type, completed.data)
    assert (
        ev.checkpoint_of(planned.type, planned.data) is None
        and ev.writes_of(planned.type, planned.data) is None
    )


def test_a_checkpoint_in_its_run_stream_leaves_out_what_the_run_says_of_its_metadata() -> None:
    checkpoint = ev.lg_checkpoint(
        thread_id="t",
        checkpoint_ns="",
        checkpoint_id="c1",
        parent_checkpoint_id=None,
        metadata={"step": 1, "run_id": "r1", "graph_id": "g", "assistant_id": None, "source": "loop"},
        checkpoint={"v": 4, "id": "c1"},
        new_versions=None,
    )
    run = {"run_id": "r1", "graph_id": "g", "assistant_id": None}
    (step,) = ev.merge_langgraph_records([checkpoint, _planned("c1")], run)
    inside = step.data[ev.STEP_CHECKPOINT]
    assert inside["metadata"] == {"step": 1, "source": "loop"} and inside["metadata_of_run"] is True
    # Metadata that differs from the run's in one of them (here another run) is kept whole.
    for other in ({**run, "run_id": "r2"}, {**run, "assistant_id": "a"}):
        (step,) = ev.merge_langgraph_records([checkpoint, _planned("c1")], other)
        assert step.data[ev.STEP_CHECKPOINT]["metadata"] == checkpoint.data["metadata"]
        assert "metadata_of_run" not in step.data[ev.STEP_CHECKPOINT]


def test_records_without_their_run_event_stay_events_of_their_own() -> None:
    # The input's checkpoint (no step follows in this commit), an interrupted task's writes (no
    # node_completed), a checkpoint another step names.
    events = [_writes("t9"), _checkpoint("c1"), _planned("c2"), _completed("t1")]
    merged = ev.merge_langgraph_records(events)
    assert merged == events


def test_subgraph_records_and_subgraph_run_events_are_not_paired() -> None:
    events = [
        _checkpoint("c1", ns="sub:1"),
        _planned("c1", ns="sub|a:1"),
        _writes("t1", ns="sub:1"),
        _completed("t1"),
    ]
    assert ev.merge_langgraph_records(events) == events
    events = [_checkpoint("c1"), _planned("c1", ns="sub|a:1")]
    assert ev.merge_langgraph_records(events) == events


def test_two_candidates_for_one_run_event_are_left_alone() -> None:
    # The same checkpoint saved twice in one commit (LangGraph's put is an upsert): which one the
    # step starts from is the last, and the order of the two must stay as it was.
    events = [_checkpoint("c1"), _checkpoint("c1"), _planned("c1")]
    assert ev.merge_langgraph_records(events) == events
    events = [_writes("t1"), _writes("t1"), _completed("t1")]
    assert ev.merge_langgraph_records(events) == events


def test_events_of_a_commit_without_records_are_returned_as_they_are() -> None:
    events = [_completed("t1"), _planned("c1")]
    assert ev.merge_langgraph_records(events) == events
    assert ev.merge_langgraph_records([]) == []
