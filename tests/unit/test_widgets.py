"""The notebook widgets' Python side: traits, Arrow event messages, throttling. No browser:
messages the kernel would send are recorded where the comm would get them. The node statuses are
the browser's (extension/src/runview/status.ts, tested there; here run in Node on these events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa
import pytest

from duragraph_lab.client import Event
from duragraph_lab.notebook import widgets as w
from duragraph_lab.notebook.widgets import (
    EVENT_COLUMNS,
    GraphView,
    ReplaySlider,
    RunView,
    Timeline,
    events_to_arrow,
)
from tests.node import node_statuses

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
TOPOLOGY = {
    "graph_id": "g",
    "nodes": [
        {"id": "__start__", "kind": "start"},
        {"id": "a", "kind": "node"},
        {"id": "b", "kind": "node"},
        {"id": "sub", "kind": "subgraph"},
        {"id": "sub:inner", "kind": "node"},
        {"id": "__end__", "kind": "end"},
    ],
    "edges": [{"source": "__start__", "target": "a", "conditional": False}],
    "layout": {"nodes": {"__start__": {"x": 0, "y": 0}}},
}


def event(seq: int, type: str, node: str | None = None, **data: Any) -> Event:
    step, attempt, task = data.get("step"), data.get("attempt"), data.get("task")
    return Event(
        seq=seq,
        event_id=f"e{seq}",
        stream="run:r1",
        run_id="r1",
        version=seq,
        type=type,
        recorded_at=T0 + dt.timedelta(milliseconds=seq),
        data={**data, **({"node": node} if node else {})},
        meta={},
        node=node,
        step=step,
        attempt=attempt,
        task=task,
        duration_ms=data.get("duration_ms"),
    )


def run_events() -> list[Event]:
    return [
        event(1, "run_created"),
        event(2, "run_started"),
        event(3, "step_planned", step=0, tasks=[{"id": "0.0", "node": "a"}]),
        event(
            4,
            "node_failed",
            "a",
            step=0,
            task="0.0",
            attempt=1,
            will_retry=True,
            started_at=10.0,
            finished_at=10.5,
        ),
        event(
            5,
            "node_completed",
            "a",
            step=0,
            task="0.0",
            attempt=2,
            started_at=11.0,
            finished_at=11.25,
            duration_ms=250.0,
        ),
        event(6, "step_planned", step=1, tasks=[{"id": "1.0", "node": "b"}, {"id": "1.1", "node": "sub"}]),
        event(7, "step_planned", step=0, ns="sub:1.1:1|", tasks=[{"id": "0.0", "node": "inner"}]),
        event(8, "node_completed", "inner", step=0, task="0.0", attempt=1, ns="sub:1.1:1|", unicode="é ✓"),
    ]


class Recorder:
    """Stands in for the comm: what the widget sends, decoded."""

    def __init__(self, widget: Any) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        widget.send = self.send

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.messages.append((content, list(buffers or [])))

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _, buffers in self.messages:
            for buf in buffers:
                out += pa.ipc.open_stream(pa.py_buffer(buf)).read_all().to_pylist()
        return out


def test_arrow_batch_decodes_to_the_events() -> None:
    events = run_events()
    table = pa.ipc.open_stream(pa.py_buffer(events_to_arrow(events))).read_all()
    assert table.column_names == list(EVENT_COLUMNS)
    assert table.schema.field("seq").type == pa.int64()
    rows = table.to_pylist()
    assert [r["seq"] for r in rows] == [e.seq for e in events]
    assert [r["type"] for r in rows] == [e.type for e in events]
    first = rows[3]
    assert (first["node"], first["step"], first["attempt"], first["task"]) == ("a", 0, 1, "0.0")
    assert (first["started_at"], first["finished_at"]) == (10.0, 10.5)
    assert rows[4]["duration_ms"] == 250.0
    assert rows[0]["node"] is None and rows[0]["attempt"] is None
    assert rows[0]["recorded_at"] == pytest.approx(T0.timestamp() * 1000 + 1)
    assert rows[7]["ns"] == "sub:1.1:1|"
    assert json.loads(rows[7]["data"]) == events[7].data  # the payload, unicode included


def test_the_browser_folds_the_node_statuses_from_the_events_sent() -> None:
    """The statuses of these events are the browser fold's (run in Node on the rows the widget
    sends): the retried node, the subgraph's inner node under the x-ray id, the interrupt and the
    resume, the failure; the kernel sends events, not statuses."""
    events = run_events()
    more = [
        event(9, "run_interrupted", interrupts=[{"node": "b", "when": "during", "value": "ok?"}]),
        event(10, "run_resumed"),
        event(11, "node_failed", "b", will_retry=False),
        event(12, "run_failed"),
    ]
    at = dict(zip((4, 7, 8, 9, 10, 12), node_statuses(events + more, [4, 7, 8, 9, 10, 12]), strict=True))
    assert at[4]["__start__"] == "done"
    assert at[4]["a"] == "running"  # failed, will retry
    assert (at[7]["a"], at[7]["b"], at[7]["sub"], at[7]["sub:inner"]) == (
        "done",
        "running",
        "running",
        "running",
    )
    assert at[8]["sub:inner"] == "done"
    assert at[9]["b"] == "interrupted" and at[9]["sub"] == "interrupted"
    assert at[10]["b"] == "running"
    assert at[12]["b"] == "failed" and at[12]["sub"] == "failed"
    assert "__end__" not in at[12]  # never reached: drawn pending
    done = [event(1, "run_started"), event(2, "node_completed", "a"), event(3, "run_completed")]
    assert node_statuses(done) == [{"__start__": "done", "a": "done", "__end__": "done"}]
    assert "status" not in RunView(TOPOLOGY, events).get_state()


def test_run_view_traits_round_trip() -> None:
    checkpoints = [(3, {"n": 0}), (5, {"n": 1, "log": ["a"]}), (8, {"n": 2, "log": ["a", "b"]})]
    view = RunView(
        TOPOLOGY, run_events(), checkpoints, run={"run_id": "r1", "thread_id": "t1", "status": "running"}
    )
    state = view.get_state()
    assert state["topology"] == TOPOLOGY
    assert state["run"]["run_id"] == "r1" and view.run_id == "r1" and view.thread_id == "t1"
    assert state["selected_seq"] == -1
    assert state["state"] == {"n": 2, "log": ["a", "b"]}  # nothing selected: the latest
    assert state["prev_state"] == {"n": 1, "log": ["a"]}
    assert "export default" in state["_esm"] or "render" in state["_esm"]
    assert ".dg-widget" in state["_css"]
    # The front end selects an event: the state at the last checkpoint at or before it.
    view.set_state({"selected_seq": 6})
    assert view.selected_seq == 6
    assert view.state == {"n": 1, "log": ["a"]} and view.prev_state == {"n": 0}
    view.set_state({"selected_seq": 3})
    assert view.state == {"n": 0} and view.prev_state == {}
    view.set_state({"selected_seq": 2})
    assert view.state == {} and view.prev_state == {}
    view.set_state({"selected_node": "b"})
    assert view.selected_node == "b"


def test_ready_sends_everything_then_only_new_events() -> None:
    events = run_events()
    view = Timeline(events[:5])
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "ready"}, [])
    assert rec.messages[0][0] == {"kind": "events", "reset": True, "rows": 5}
    assert [r["seq"] for r in rec.rows()] == [1, 2, 3, 4, 5]
    # No running loop (a script): appended events go at once; duplicates are dropped.
    assert view.append_events(events[3:]) == 3
    assert rec.messages[1][0] == {"kind": "events", "reset": False, "rows": 3}
    assert [r["seq"] for r in rec.rows()] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert view.append_events(events) == 0
    assert len(rec.messages) == 2
    # A second view (or a re-rendered one) gets the whole log again, in seq order.
    view.append_events([event(20, "run_completed"), event(15, "node_completed", "b")])
    rec.messages.clear()
    view._handle_custom_msg({"kind": "ready"}, [])
    assert rec.messages[0][0]["reset"] is True
    assert [r["seq"] for r in rec.rows()] == [1, 2, 3, 4, 5, 6, 7, 8, 15, 20]
    assert [e.seq for e in view.events] == [1, 2, 3, 4, 5, 6, 7, 8, 15, 20]


def test_a_large_log_is_split_into_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(w, "BUFFER_ROWS", 1000)
    events = [
        event(i, "node_completed", "a", step=i, started_at=float(i), finished_at=i + 0.5)
        for i in range(1, 2501)
    ]
    view = Timeline(events)
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "ready"}, [])
    assert len(rec.messages) == 1
    assert len(rec.messages[0][1]) == 3
    assert [r["seq"] for r in rec.rows()] == list(range(1, 2501))


async def test_appends_are_coalesced_to_max_rate() -> None:
    view = RunView(TOPOLOGY)
    rec = Recorder(view)
    start = time.monotonic()
    seq = 0
    while time.monotonic() - start < 1.0:
        seq += 1
        view.append_events([event(seq, "node_completed", "a", step=seq)])
        await asyncio.sleep(0.002)
    elapsed = time.monotonic() - start
    await asyncio.sleep(0.15)  # the last coalesced message
    assert seq > 100
    assert 2 <= len(rec.messages) <= elapsed * view.max_rate + 2
    assert [r["seq"] for r in rec.rows()] == list(range(1, seq + 1))  # each event once, in order


async def test_flush_sends_pending_events_now() -> None:
    view = Timeline()
    rec = Recorder(view)
    view.append_events([event(1, "run_started")])
    view.append_events([event(2, "run_completed")])
    view.flush()
    assert len(rec.messages) == 1 and [r["seq"] for r in rec.rows()] == [1, 2]
    await asyncio.sleep(0.15)
    assert len(rec.messages) == 1  # the cancelled timer sent nothing more


def test_fork_action_calls_back_and_reports_errors() -> None:
    slider = ReplaySlider(run_events(), [(5, {"x": 1})])
    seen: list[int] = []
    slider.on_fork(seen.append)
    slider._handle_custom_msg({"kind": "fork", "seq": 5}, [])
    assert seen == [5]

    def broken(seq: int) -> None:
        raise ValueError(f"no checkpoint at {seq}")

    slider.on_fork(broken)
    slider._handle_custom_msg({"kind": "fork", "seq": 6}, [])
    assert slider.message == "fork failed: no checkpoint at 6"
    slider._handle_custom_msg({"kind": "unknown"}, [])
    slider._handle_custom_msg("not a dict", [])


def test_a_fork_edited_in_the_dialog_passes_its_update() -> None:
    slider = ReplaySlider(run_events(), [(5, {"x": 1})])
    seen: list[tuple[object, ...]] = []
    slider.on_fork(lambda *args: seen.append(args))
    slider._handle_custom_msg({"kind": "fork", "seq": 5, "update": {"x": 2}}, [])
    slider._handle_custom_msg({"kind": "fork", "seq": 6, "update": {}}, [])  # nothing edited
    assert seen == [(5, {"x": 2}), (6,)]


def test_the_state_shown_comes_from_the_server_when_there_is_a_run_to_ask() -> None:
    from duragraph_lab.client import EventState

    asked: list[int | None] = []

    def source(seq: int | None) -> EventState:
        asked.append(seq)
        at = 7 if seq is None else seq
        return EventState.from_json(
            {"run_id": "r", "seq": at, "type": "node_completed", "node": "a", "step": 0,
             "values": {"n": at}, "previous": {"n": at - 1}, "previous_seq": at - 1}
        )  # fmt: skip

    slider = ReplaySlider(run_events(), [(5, {"x": 1})], state_source=source)
    assert (slider.state, slider.prev_state) == ({"n": 7}, {"n": 6})  # the latest event
    assert slider.state_at == {
        "seq": 7, "type": "node_completed", "node": "a", "step": 0, "previous_seq": 6, "source": "event"
    }  # fmt: skip
    slider.selected_seq = 3
    slider.selected_seq = 4
    slider.selected_seq = 3  # asked once: an event's state never changes
    assert asked == [None, 3, 4] and slider.state == {"n": 3}

    def away(seq: int | None) -> EventState:
        raise ConnectionError("server down")

    fallback = ReplaySlider(run_events(), [(5, {"x": 1})], state_source=away)
    assert fallback.state == {"x": 1} and fallback.state_at == {"seq": 5, "source": "checkpoint"}
    assert fallback.message.startswith("could not read the state at the latest event: server down")


def test_run_view_without_client_says_so() -> None:
    view = RunView(TOPOLOGY)
    view._handle_custom_msg({"kind": "resume", "value": True}, [])
    assert view.message == "no client: cannot resume"
    with pytest.raises(Exception, match="no client"):
        view.follow()


def test_graph_view_traits() -> None:
    view = GraphView(TOPOLOGY, status={"a": "running"})
    state = view.get_state()
    assert state["topology"]["graph_id"] == "g" and state["status"] == {"a": "running"}
    view.set_state({"selected_node": "a"})
    assert view.selected_node == "a"


def test_missing_bundle_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="npm ci && npm run build"):
        w.bundle("no_such_widget.js")
