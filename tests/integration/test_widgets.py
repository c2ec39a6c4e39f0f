"""The notebook widgets against a real server (the session's ``api_server``): RunView.for_run
loads topology, events, spans and checkpoints; the events reach the views as Arrow batches;
follow() keeps a live run's view up to date from its SSE stream; fork and resume from the
widget's buttons (the messages the front end sends). The node statuses are what the browser folds
from the events the view sends (extension/src/runview/status.ts, run here in Node)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pyarrow as pa
import pytest

from duragraph_lab.client import AsyncDuraGraphClient, DuraGraphClient
from duragraph_lab.notebook.widgets import RunView
from tests.apiserver import ApiServer
from tests.node import node_statuses

CHAT_INPUT = {"messages": [{"role": "user", "content": "what is 6 * 7"}]}
SPAN_TYPES = ("node_completed", "node_failed")


@pytest.fixture
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


@pytest.fixture
async def aclient(api_server: ApiServer) -> AsyncIterator[AsyncDuraGraphClient]:
    async with AsyncDuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


class Recorder:
    """Where the comm would get the widget's messages."""

    def __init__(self, widget: Any) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        widget.send = lambda content, buffers=None: self.messages.append((content, list(buffers or [])))

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _, buffers in self.messages:
            for buf in buffers:
                out += pa.ipc.open_stream(pa.py_buffer(buf)).read_all().to_pylist()
        return out


def test_run_view_for_a_finished_chat_run(client: DuraGraphClient) -> None:
    result = client.runs.wait(None, "chat", input=CHAT_INPUT, on_completion="keep")
    assert result.run_id is not None
    view = RunView.for_run(client, result.run_id)

    graph = client.assistants.graph("chat")
    ids = {n["id"] for n in graph.nodes}
    assert {n["id"] for n in view.topology["nodes"]} == ids
    assert {"__start__", "__end__"} < ids
    assert view.topology["layout"]["nodes"].keys() == ids

    events = list(client.runs.iter_events(result.run_id))
    executed = {e.node for e in events if e.type == "node_completed"}
    assert executed, "the chat run executed nodes"
    assert view.run["status"] == "success"
    assert view.run["output"]["messages"][-1]["content"] == result.values["messages"][-1]["content"]
    assert view.run["input"]["messages"][0]["content"] == "what is 6 * 7"
    # Every node the run executed is done, START and END too; nothing is left running or failed.
    status = {n: "pending" for n in ids} | node_statuses(view.events)[0]
    assert {status[n] for n in executed | {"__start__", "__end__"}} == {"done"}
    assert set(status.values()) <= {"done", "pending"}
    assert {n for n, s in status.items() if s == "pending"} == ids - executed - {"__start__", "__end__"}
    # One span per node execution.
    node_executions = [e for e in events if e.type in SPAN_TYPES]
    assert len(view.spans) == len(node_executions)
    assert sorted((s.node, s.task, s.attempt) for s in view.spans) == sorted(
        (e.node, e.task, e.attempt) for e in node_executions
    )
    # The state at the end, and scrubbing back to the first checkpoint.
    assert view.state["messages"][-1]["content"] == result.values["messages"][-1]["content"]
    first_planned = next(e for e in events if e.type == "step_planned")
    view.set_state({"selected_seq": first_planned.seq})
    assert len(view.state["messages"]) < len(result.values["messages"])
    # At a node's completion: the state after that node (read from the server), its change.
    agent = next(e for e in events if e.type == "node_completed" and e.node == "agent")
    view.set_state({"selected_seq": agent.seq})
    assert view.state_at == {
        "seq": agent.seq, "type": "node_completed", "node": "agent", "step": agent.step,
        "previous_seq": first_planned.seq, "source": "event",
    }  # fmt: skip
    assert len(view.state["messages"]) == len(view.prev_state["messages"]) + 1
    assert view.state["messages"][-1]["type"] == "ai"

    # A view that becomes ready gets the whole log as Arrow batches.
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "ready"}, [])
    rows = rec.rows()
    assert [r["seq"] for r in rows] == [e.seq for e in events]
    assert [r["type"] for r in rows] == [e.type for e in events]
    assert sum(1 for r in rows if r["type"] in SPAN_TYPES and r["started_at"] is not None) == len(
        node_executions
    )


def test_fork_from_the_slider(client: DuraGraphClient) -> None:
    result = client.runs.wait(None, "chat", input=CHAT_INPUT, on_completion="keep")
    assert result.run_id is not None
    view = RunView.for_run(client, result.run_id)
    planned = [e for e in view.events if e.type == "step_planned"]
    view._handle_custom_msg({"kind": "fork", "seq": planned[1].seq}, [])
    assert view.fork_run_id, view.message
    assert view.message.startswith(f"forked at #{planned[1].seq}")
    forked = client.runs.join(view.fork_run_id)
    assert forked.values["messages"][-1]["content"] == result.values["messages"][-1]["content"]
    # A fork at an event that does not exist: the message says why, nothing raised.
    view._handle_custom_msg({"kind": "fork", "seq": 10**12}, [])
    assert view.message.startswith("fork failed")


def test_interrupt_and_resume_from_the_widget(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    paused = client.runs.wait(
        thread.thread_id,
        "approval",
        input={"messages": [{"role": "user", "content": "Can we meet on Friday?"}]},
    )
    assert paused.interrupted and paused.run_id is not None
    view = RunView.for_run(client, paused.run_id)
    assert view.run["status"] == "interrupted"
    assert view.run["interrupts"] and view.run["interrupts"][0]["value"] == paused.interrupts[0].value
    assert "interrupted" in node_statuses(view.events)[0].values()
    view._handle_custom_msg({"kind": "resume", "value": True}, [])
    assert view.message == "resumed"
    done = client.runs.join(paused.run_id)
    assert done.values["approved"] is True
    again = RunView.for_run(client, paused.run_id)
    assert again.run["status"] == "success"
    statuses = node_statuses(again.events)[0]
    assert "interrupted" not in statuses.values() and "running" not in statuses.values()


APPROVAL_INPUT = {"messages": [{"role": "user", "content": "Can we meet on Friday?"}]}


async def test_a_followed_view_follows_a_resume_made_elsewhere(aclient: AsyncDuraGraphClient) -> None:
    """Shown while the run waits for a human, answered from code: the view goes on to the end
    (no more "Waiting for you", the final output) instead of staying at the interrupt."""
    paused = await aclient.runs.wait(None, "approval", input=APPROVAL_INPUT)
    assert paused.interrupted and paused.run_id is not None and paused.thread_id is not None
    view = await RunView.afor_run(aclient, paused.run_id)
    task = view.follow()
    await asyncio.sleep(0.3)
    assert not task.done() and view.run["status"] == "interrupted"  # still following
    await aclient.runs.create(paused.thread_id, "approval", command={"resume": True})
    final = await view.wait(timeout=60)
    assert task.done() and task.exception() is None
    assert final["status"] == "success" and final["interrupts"] == []
    assert final["output"] == (await aclient.runs.join(paused.run_id)).values
    assert "interrupted" not in node_statuses(view.events)[0].values()


async def test_a_closed_view_stops_following_a_run_that_waits(aclient: AsyncDuraGraphClient) -> None:
    paused = await aclient.runs.wait(None, "approval", input=APPROVAL_INPUT)
    assert paused.run_id is not None
    view = await RunView.afor_run(aclient, paused.run_id)
    task = view.follow()
    await asyncio.sleep(0.3)
    assert not task.done()
    view.close()
    await asyncio.wait_for(task, 10)  # within a poll: nobody looks any more
    assert (await aclient.runs.get(paused.run_id)).status == "interrupted"


def test_resume_on_a_view_answered_elsewhere_shows_the_run_as_it_is(client: DuraGraphClient) -> None:
    """A stale view (not following) whose run was resumed from code: its Resume says why it
    failed and the view shows the run's current state, not "resuming…" forever."""
    paused = client.runs.wait(None, "approval", input=APPROVAL_INPUT)
    assert paused.run_id is not None and paused.thread_id is not None
    view = RunView.for_run(client, paused.run_id)
    client.runs.create(paused.thread_id, "approval", command={"resume": True})
    client.runs.join(paused.run_id)
    view._handle_custom_msg({"kind": "resume", "value": True}, [])
    assert view.message == (
        "resume failed: the run no longer waits for an answer (it was answered elsewhere; it is success now)"
    ), view.message
    assert view.run["status"] == "success" and view.run["interrupts"] == []


async def test_follow_a_live_run(aclient: AsyncDuraGraphClient) -> None:
    run = await aclient.runs.create(None, "map_reduce", input={"topic": "solar power"}, on_completion="keep")
    view = await RunView.afor_run(aclient, run.run_id)
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "ready"}, [])
    task = view.follow()
    assert view.follow() is task  # following twice is one task
    final = await view.wait(timeout=120)
    assert task.done() and task.exception() is None
    assert final["status"] == "success"

    events = [e async for e in aclient.runs.iter_events(run.run_id)]
    assert [e.seq for e in view.events] == [e.seq for e in events]
    assert sorted(r["seq"] for r in rec.rows()) == [e.seq for e in events]  # each event once
    assert len({r["seq"] for r in rec.rows()}) == len(rec.rows())
    executed = {e.node for e in events if e.type == "node_completed"}
    # The browser's fold after each message the view got: the final one has every node done.
    cuts = list(itertools.accumulate(m[0]["rows"] for m in rec.messages))
    seen = node_statuses(view.events, cuts)
    assert {seen[-1][n] for n in executed | {"__start__", "__end__"}} == {"done"}
    assert final["output"] == (await aclient.runs.join(run.run_id)).values
    assert view.state == final["output"]
    initial = rec.messages[0][0]["rows"]
    if initial < len(events):  # the run was still going when the view was made: appended live
        assert len(rec.messages) >= 2
        if any(e.type == "step_planned" for e in events[initial:]):
            # A node was seen running before everything was done.
            assert any("running" in statuses.values() for statuses in seen)


async def test_following_a_finished_run_ends_at_once(aclient: AsyncDuraGraphClient) -> None:
    result = await aclient.runs.wait(None, "chat", input=CHAT_INPUT, on_completion="keep")
    assert result.run_id is not None
    view = await RunView.afor_run(aclient, result.run_id)
    before = len(view.events)
    await asyncio.wait_for(view.follow(), 30)  # an already finished run: follow ends at once
    assert len(view.events) == before
    assert view.run["status"] == "success"
