"""Runs through the official ``langgraph-sdk`` client: background, wait, join, cancel, delete,
interrupts and resumes, multitask strategies, breakpoints, stateless runs, batches and forks."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from langgraph_sdk.schema import Command

from tests.conformance.helpers import HUMAN_2_PLUS_3, collect, events_of, new_thread, progressed, tag

LOG5 = ["s0", "s1", "s2", "s3", "s4"]


@pytest.mark.sdk(
    "assistants.get",
    "runs.create",
    "runs.get",
    "runs.join",
    "runs.list",
    "threads.create",
    "threads.get",
)
async def test_background_run_join_get_list(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.02}, metadata={"m": 1})
    assert run["thread_id"] == thread_id and run["status"] in ("pending", "running")
    assert run["metadata"] == {"m": 1} and run["multitask_strategy"] == "enqueue"
    assert run["kwargs"]["stream_mode"] == ["values"]
    assert run["assistant_id"] == (await client.assistants.get("slow"))["assistant_id"]

    assert await client.runs.join(thread_id, run["run_id"]) == {"n": 5, "sleep": 0.02, "log": LOG5}
    done = await client.runs.get(thread_id, run["run_id"])
    assert done["status"] == "success" and done["run_id"] == run["run_id"]
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == [run["run_id"]]
    assert len(await client.runs.list(thread_id, status="success")) == 1
    assert await client.runs.list(thread_id, status="error") == []
    assert (await client.threads.get(thread_id))["status"] == "idle"
    # A second run continues from the thread's state; list is newest first.
    second = await client.runs.create(thread_id, "slow", input={"n": 10})
    assert (await client.runs.join(thread_id, second["run_id"]))["log"] == LOG5 + LOG5
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == [second["run_id"], run["run_id"]]
    assert [r["run_id"] for r in await client.runs.list(thread_id, limit=1, offset=1)] == [run["run_id"]]
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, str(uuid.uuid4()))


@pytest.mark.sdk("runs.wait", "threads.create")
async def test_chat_demo_tool_loop(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    result = await client.runs.wait(thread_id, "chat", input=HUMAN_2_PLUS_3)
    human, call, tool, answer = result["messages"]
    assert human["type"] == "human" and human["content"] == "what is 2 + 3"
    assert call["type"] == "ai" and call["tool_calls"][0]["name"] == "calculator"
    assert call["tool_calls"][0]["args"] == {"expression": "2 + 3"}
    assert tool["type"] == "tool" and tool["content"] == "5"
    assert tool["tool_call_id"] == call["tool_calls"][0]["id"]
    assert answer == {**answer, "type": "ai", "content": "The result is 5."}
    # The conversation goes on in the same thread.
    follow_up = await client.runs.wait(
        thread_id, "chat", input={"messages": [{"role": "user", "content": "thanks"}]}
    )
    assert follow_up["messages"][-1]["content"] == "You said: thanks" and len(follow_up["messages"]) == 6


@pytest.mark.sdk("runs.stream", "threads.create", "threads.get_state")
async def test_map_reduce_demo(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = await collect(
        client.runs.stream(thread_id, "map_reduce", input={"topic": ["a", "b", "c"]}, stream_mode="updates")
    )
    nodes = [next(iter(data)) for data in events_of(parts, "updates")]
    assert nodes == ["plan", "research", "research", "research", "summarize"]
    values = (await client.threads.get_state(thread_id))["values"]
    assert values["subtopics"] == ["a", "b", "c"]
    assert sorted(n["subtopic"] for n in values["notes"]) == ["a", "b", "c"]
    assert all(f"- {s}:" in values["summary"] for s in "abc")


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.stream[Command(resume)]",
    "runs.wait",
    "runs.wait[Command(resume)]",
    "threads.create",
    "threads.get",
    "threads.get_state",
)
async def test_interrupt_then_resume_continues_the_same_run(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    paused = await client.runs.wait(thread_id, "asking", input={"n": 7})
    [intr] = paused["__interrupt__"]
    assert paused["n"] == 7 and intr["value"] == {"question": "proceed?", "n": 7} and intr["id"]

    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    assert [i["value"] for group in thread["interrupts"].values() for i in group] == [intr["value"]]
    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["ask"] and [i["id"] for i in state["interrupts"]] == [intr["id"]]
    assert state["tasks"][0]["name"] == "ask" and state["tasks"][0]["interrupts"][0]["id"] == intr["id"]
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "interrupted"

    parts = await collect(
        client.runs.stream(
            thread_id, "asking", command=Command(resume="yes"), stream_mode=["values", "updates"]
        )
    )
    assert parts[0][0] == "metadata" and parts[0][1]["run_id"] == run["run_id"]
    assert events_of(parts, "updates") == [
        {"ask": {"answer": "yes", "log": ["asked"]}},
        {"done": {"log": ["done:yes"]}},
    ]
    assert events_of(parts, "values")[-1] == {"n": 7, "answer": "yes", "log": ["asked", "done:yes"]}
    # DuraGraph: a resume continues the interrupted run (LangGraph starts a new run).
    assert [(r["run_id"], r["status"]) for r in await client.runs.list(thread_id)] == [
        (run["run_id"], "success")
    ]
    # Nothing is waiting any more: resuming again is refused.
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(thread_id, "asking", command=Command(resume="again"))
    assert refused.value.response.status_code == 409


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.stream[Command(resume)]",
    "runs.wait",
    "runs.wait[Command(resume)]",
    "threads.create",
    "threads.get_state",
)
async def test_approval_demo_reject_then_approve(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    first = await client.runs.wait(
        thread_id, "approval", input={"messages": [{"role": "user", "content": "hello there"}]}
    )
    [ask] = first["__interrupt__"]
    assert ask["value"] == {
        "question": "Approve this reply?",
        "draft": "You said: hello there",
        "revision": 0,
    }

    second = await client.runs.wait(
        thread_id, "approval", command=Command(resume={"approved": False, "feedback": "shorter"})
    )
    [ask2] = second["__interrupt__"]
    assert ask2["value"]["revision"] == 1 and "Reviewer feedback: shorter" in ask2["value"]["draft"]
    assert ask2["id"] != ask["id"]

    parts = await collect(
        client.runs.stream(thread_id, "approval", command=Command(resume=True), stream_mode="updates")
    )
    updates = events_of(parts, "updates")
    assert updates[0] == {"review": {"approved": True, "feedback": "", "revise": False}}
    assert updates[1]["publish"]["messages"][0]["content"] == ask2["value"]["draft"]
    final = (await client.threads.get_state(thread_id))["values"]
    assert final["approved"] is True and final["messages"][-1]["type"] == "ai"
    assert [r["status"] for r in await client.runs.list(thread_id)] == ["success"]


@pytest.mark.sdk(
    "runs.cancel",
    "runs.cancel[action=interrupt]",
    "runs.create",
    "runs.get",
    "runs.list",
    "threads.create",
    "threads.get",
    "threads.get_state",
)
async def test_cancel_interrupt(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    await progressed(client, thread_id, run["run_id"], 1)
    joined = await client.runs.cancel(thread_id, run["run_id"], wait=True)
    assert 1 <= joined["n"] < 5  # stopped part-way; what it did stays
    # As on LangGraph Platform, a run cancelled with action=interrupt is "interrupted"; DuraGraph
    # keeps why in a field of its own.
    cancelled = await client.runs.get(thread_id, run["run_id"])
    assert (cancelled["status"], cancelled["duragraph_status"]) == ("interrupted", "cancelled")
    # Listed and searched as interrupted too (and as cancelled, DuraGraph's finer filter).
    assert [r["run_id"] for r in await client.runs.list(thread_id, status="interrupted")] == [run["run_id"]]
    assert await client.runs.list(thread_id, status="success") == []
    for status in ("interrupted", "cancelled"):  # DuraGraph's POST /runs/search (not in the SDK)
        found = await client.http.post("/runs/search", json={"thread_id": thread_id, "status": status})
        assert [r["run_id"] for r in found] == [run["run_id"]], status
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "idle" and thread["values"]["n"] == joined["n"]
    # A run that is at rest cannot be cancelled (DuraGraph: 409; LangGraph: 404).
    with pytest.raises(ConflictError):
        await client.runs.cancel(thread_id, run["run_id"])


@pytest.mark.sdk(
    "runs.cancel",
    "runs.cancel[action=rollback]",
    "runs.create",
    "runs.get",
    "runs.list",
    "runs.wait",
    "threads.create",
    "threads.get",
    "threads.get_state",
)
async def test_cancel_rollback(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "slow", input={"n": 100})
    run = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    await progressed(client, thread_id, run["run_id"], 6)
    await client.runs.cancel(thread_id, run["run_id"], action="rollback", wait=True)
    # The run is gone, and so is what it did: the thread is as before it.
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, run["run_id"])
    assert [r["status"] for r in await client.runs.list(thread_id)] == ["success"]
    before = {"n": 105, "log": LOG5}
    assert (await client.threads.get(thread_id))["values"] == before
    assert (await client.threads.get_state(thread_id))["values"] == before
    assert (await client.runs.wait(thread_id, "slow", input={"n": 0}))["log"] == LOG5 + LOG5


@pytest.mark.sdk("runs.cancel_many", "runs.create", "runs.get", "runs.join", "threads.create")
async def test_cancel_many(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    await client.runs.cancel_many(thread_id=thread_id, run_ids=[run["run_id"]])
    await client.runs.join(thread_id, run["run_id"])
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
    with pytest.raises(NotFoundError):  # nothing left to cancel
        await client.runs.cancel_many(thread_id=thread_id, run_ids=[run["run_id"]])


@pytest.mark.sdk("runs.create", "runs.delete", "runs.get", "runs.join", "runs.list", "threads.create")
async def test_delete_run(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    busy = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.1})
    with pytest.raises(ConflictError):  # not while it runs
        await client.runs.delete(thread_id, busy["run_id"])
    await client.runs.join(thread_id, busy["run_id"])
    await client.runs.delete(thread_id, busy["run_id"])
    assert await client.runs.list(thread_id) == []
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, busy["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.delete(thread_id, busy["run_id"])


@pytest.mark.sdk(
    "runs.create",
    "runs.create[multitask_strategy]",
    "runs.join",
    "runs.list",
    "runs.wait",
    "runs.wait[multitask_strategy]",
    "threads.create",
)
async def test_multitask_reject(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    first = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.1})
    with pytest.raises(ConflictError) as rejected:
        await client.runs.create(thread_id, "slow", input={"n": 50}, multitask_strategy="reject")
    assert isinstance(rejected.value, httpx.HTTPStatusError) and rejected.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as also:  # /wait and /stream say the same
        await client.runs.wait(thread_id, "slow", input={"n": 50}, multitask_strategy="reject")
    assert also.value.response.status_code == 409
    assert (await client.runs.join(thread_id, first["run_id"]))["n"] == 5
    assert len(await client.runs.list(thread_id)) == 1


@pytest.mark.sdk("runs.create", "runs.create[multitask_strategy]", "runs.get", "runs.join", "threads.create")
async def test_multitask_enqueue(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    first = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.05})
    second = await client.runs.create(thread_id, "slow", input={"n": 50}, multitask_strategy="enqueue")
    assert second["status"] == "pending"
    result = await client.runs.join(thread_id, second["run_id"])
    assert result["n"] == 55 and result["log"] == LOG5 + LOG5  # after the first, on its state
    first_done = await client.runs.get(thread_id, first["run_id"])
    second_done = await client.runs.get(thread_id, second["run_id"])
    assert first_done["status"] == second_done["status"] == "success"
    assert first_done["ended_at"] <= second_done["started_at"]


@pytest.mark.sdk(
    "runs.create",
    "runs.create[multitask_strategy]",
    "runs.get",
    "runs.join",
    "threads.create",
    "threads.get_state",
)
async def test_multitask_interrupt(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    first = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    await progressed(client, thread_id, first["run_id"], 1)
    second = await client.runs.create(
        thread_id, "slow", input={"n": 50, "sleep": 0}, multitask_strategy="interrupt"
    )
    result = await client.runs.join(thread_id, second["run_id"])
    cancelled = await client.runs.get(thread_id, first["run_id"])
    assert (cancelled["status"], cancelled["duragraph_status"]) == ("interrupted", "cancelled")
    # The interrupted run's finished nodes stay in the state the new run starts from.
    done_before = result["log"][: -len(LOG5)]
    assert result["log"][-len(LOG5) :] == LOG5 and 1 <= len(done_before) < 5
    assert done_before == LOG5[: len(done_before)] and result["n"] == 55


@pytest.mark.sdk(
    "runs.create",
    "runs.create[multitask_strategy]",
    "runs.get",
    "runs.join",
    "runs.list",
    "threads.create",
    "threads.get_state",
)
async def test_multitask_rollback(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    first = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    await progressed(client, thread_id, first["run_id"], 1)
    second = await client.runs.create(thread_id, "slow", input={"n": 50}, multitask_strategy="rollback")
    result = await client.runs.join(thread_id, second["run_id"])
    assert result == {"n": 55, "log": LOG5}  # as if the first run never happened
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, first["run_id"])
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == [second["run_id"]]


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.stream[interrupt_after]",
    "runs.wait",
    "runs.wait[interrupt_before]",
    "threads.create",
    "threads.get",
    "threads.get_state",
)
async def test_interrupt_before_and_after(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    paused = await client.runs.wait(thread_id, "slow", input={"n": 0}, interrupt_before=["s2"])
    assert paused["n"] == 2 and paused["log"] == ["s0", "s1"]
    assert [i["node"] for i in paused["__interrupt__"]] == ["s2"]
    assert (await client.threads.get_state(thread_id))["next"] == ["s2"]
    assert (await client.threads.get(thread_id))["status"] == "interrupted"
    # No input: go on past the breakpoint, in the same run.
    assert await client.runs.wait(thread_id, "slow", input=None) == {"n": 5, "log": LOG5}
    assert [r["status"] for r in await client.runs.list(thread_id)] == ["success"]

    other = await new_thread(client)
    parts = await collect(
        client.runs.stream(other, "slow", input={"n": 0}, interrupt_after=["s1"], stream_mode="updates")
    )
    updates = events_of(parts, "updates")
    assert [next(iter(u)) for u in updates] == ["s0", "s1", "__interrupt__"]
    # DuraGraph describes a static breakpoint (LangGraph sends an empty __interrupt__ list).
    assert [i["node"] for i in updates[-1]["__interrupt__"]] == ["s1"]
    assert (await client.threads.get_state(other))["next"] == ["s2"]

    compiled = await new_thread(client)  # interrupt_before given at compile time
    paused = await client.runs.wait(compiled, "breakpoint", input={"n": 0})
    assert paused["n"] == 1 and [i["node"] for i in paused["__interrupt__"]] == ["b"]


@pytest.mark.sdk(
    "runs.create",
    "runs.create[stateless]",
    "runs.join",
    "runs.stream",
    "runs.stream[on_run_created]",
    "runs.stream[stateless]",
    "runs.wait",
    "runs.wait[stateless]",
)
async def test_stateless_runs(client: LangGraphClient) -> None:
    assert await client.runs.wait(None, "slow", input={"n": 10}) == {"n": 15, "log": LOG5}
    created: list[Any] = []
    parts = await collect(
        client.runs.stream(
            None, "slow", input={"n": 10}, stream_mode="updates", on_run_created=created.append
        )
    )
    assert [e for e, _ in parts] == ["metadata"] + ["updates"] * 5
    [meta] = created
    assert meta["run_id"] == parts[0][1]["run_id"] and meta["thread_id"]

    run = await client.runs.create(None, "slow", input={"n": 1})
    assert run["thread_id"] and (await client.runs.join(run["thread_id"], run["run_id"]))["n"] == 6
    with pytest.raises(httpx.HTTPStatusError) as refused:  # nothing to resume without a thread
        await client.runs.wait(None, "asking", command=Command(resume="x"))
    assert refused.value.response.status_code == 422  # LangGraph: 400


@pytest.mark.sdk("runs.create_batch", "runs.join")
async def test_create_batch(client: LangGraphClient) -> None:
    labels = tag()
    runs = await client.runs.create_batch(
        [
            {"assistant_id": "slow", "input": {"n": 1}, "metadata": labels},
            {"assistant_id": "asking", "input": {"n": 2}, "metadata": labels},
        ]
    )
    assert len(runs) == 2 and runs[0]["thread_id"] != runs[1]["thread_id"]
    assert all(r["metadata"] == labels for r in runs)
    slow, asking = [await client.runs.join(r["thread_id"], r["run_id"]) for r in runs]
    assert slow == {"n": 6, "log": LOG5}
    assert asking["__interrupt__"][0]["value"] == {"question": "proceed?", "n": 2}


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.stream[checkpoint_id]",
    "runs.wait",
    "runs.wait[checkpoint]",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
)
async def test_fork_from_a_checkpoint(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "slow", input={"n": 0})
    history = await client.threads.get_history(thread_id)
    [point] = [h for h in history if h["next"] == ["s2"]]
    assert point["values"] == {"n": 2, "log": ["s0", "s1"]}

    # No input: re-execute from that checkpoint (s2, s3, s4 run again).
    parts = await collect(
        client.runs.stream(
            thread_id,
            "slow",
            input=None,
            checkpoint_id=point["checkpoint"]["checkpoint_id"],
            stream_mode=["values", "updates"],
        )
    )
    assert events_of(parts, "values")[0] == point["values"]
    assert [next(iter(u)) for u in events_of(parts, "updates")] == ["s2", "s3", "s4"]
    assert (await client.threads.get_state(thread_id))["values"] == {"n": 5, "log": LOG5}
    fork_run = parts[0][1]["run_id"]
    fork_history = [
        h for h in await client.threads.get_history(thread_id, limit=50) if h["run_id"] == fork_run
    ]
    assert fork_history[-1]["parent_checkpoint"]["checkpoint_id"] == point["checkpoint"]["checkpoint_id"]
    assert len(await client.runs.list(thread_id)) == 2

    # With input (and a checkpoint object): the input is applied there and the graph starts over.
    result = await client.runs.wait(thread_id, "slow", input={"n": 40}, checkpoint=point["checkpoint"])
    assert result == {"n": 45, "log": ["s0", "s1", *LOG5]}


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.wait",
    "runs.wait[raise_error=False]",
    "threads.create",
    "threads.get",
)
async def test_failing_run(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = await collect(client.runs.stream(thread_id, "slow", input={"fail": True}, stream_mode="updates"))
    assert [e for e, _ in parts] == ["metadata", "updates", "updates", "error"]
    assert parts[-1][1] == {"error": "ValueError", "message": "step 2 failed as asked"}
    assert (await client.threads.get(thread_id))["status"] == "error"
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "error"

    result = await client.runs.wait(thread_id, "slow", input={"fail": True}, raise_error=False)
    assert result == {"__error__": {"error": "ValueError", "message": "step 2 failed as asked"}}
    with pytest.raises(Exception, match="ValueError: step 2 failed as asked"):
        await client.runs.wait(thread_id, "slow", input={"fail": True})


@pytest.mark.sdk(
    "runs.create",
    "runs.wait",
    "runs.wait[if_not_exists=create]",
    "threads.create",
    "threads.get",
)
async def test_bad_requests(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    with pytest.raises(httpx.HTTPStatusError) as unknown_thread:
        await client.runs.wait(str(uuid.uuid4()), "slow", input={})
    assert unknown_thread.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as unknown_assistant:
        await client.runs.wait(thread_id, str(uuid.uuid4()), input={})
    assert unknown_assistant.value.response.status_code == 404
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(thread_id, "slow", input={}, stream_mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(thread_id, "slow", input={}, multitask_strategy="bogus")  # type: ignore[arg-type]
    # if_not_exists="create" makes the thread.
    new_id = str(uuid.uuid4())
    assert (await client.runs.wait(new_id, "slow", input={"n": 1}, if_not_exists="create"))["n"] == 6
    assert (await client.threads.get(new_id))["status"] == "idle"


def _sync_until(probe: Any, check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if check(result):
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}; last: {result!r}"
        time.sleep(0.1)


@pytest.mark.sdk(
    "runs.cancel",
    "runs.cancel[action=interrupt]",
    "runs.cancel_many",
    "runs.create",
    "runs.create_batch",
    "runs.delete",
    "runs.get",
    "runs.join",
    "runs.join_stream",
    "runs.join_stream[last_event_id]",
    "runs.list",
    "threads.create",
    "threads.get_state",
)
def test_sync_client_runs(sync_client: SyncLangGraphClient) -> None:
    thread_id = sync_client.threads.create()["thread_id"]
    run = sync_client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    _sync_until(
        lambda: sync_client.threads.get_state(thread_id),
        lambda s: len(s["values"].get("log") or []) >= 1,
        "the run's first node",
    )
    joined = sync_client.runs.cancel(thread_id, run["run_id"], wait=True)
    assert 1 <= joined["n"] < 5
    assert sync_client.runs.get(thread_id, run["run_id"])["status"] == "interrupted"

    # join_stream replays the run; after an event id, the rest exactly once.
    done = sync_client.runs.create(thread_id, "slow", input={"n": 0}, stream_mode="updates")
    parts = list(sync_client.runs.join_stream(thread_id, done["run_id"], stream_mode="updates"))
    assert [p.event for p in parts] == ["metadata"] + ["updates"] * 5
    rest = list(sync_client.runs.join_stream(thread_id, done["run_id"], last_event_id=parts[2].id))
    assert [p.data for p in rest[1:]] == [p.data for p in parts[3:]]
    assert [r["run_id"] for r in sync_client.runs.list(thread_id)] == [done["run_id"], run["run_id"]]

    sync_client.runs.delete(thread_id, done["run_id"])
    assert [r["run_id"] for r in sync_client.runs.list(thread_id)] == [run["run_id"]]

    busy = sync_client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.3})
    sync_client.runs.cancel_many(thread_id=thread_id, run_ids=[busy["run_id"]])
    sync_client.runs.join(thread_id, busy["run_id"])
    assert sync_client.runs.get(thread_id, busy["run_id"])["status"] == "interrupted"

    batch = sync_client.runs.create_batch([{"assistant_id": "slow", "input": {"n": 1}}])
    assert sync_client.runs.join(batch[0]["thread_id"], batch[0]["run_id"]) == {"n": 6, "log": LOG5}
