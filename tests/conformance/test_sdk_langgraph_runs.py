"""Real LangGraph graphs (a ``StateGraph`` with ``Send`` map-reduce and ``interrupt()``, a
``create_agent`` with a fake chat model and a tool) executed by LangGraph's runtime in the
server's worker, driven through the official ``langgraph-sdk`` (async and sync) as on LangGraph
Platform: streamed values and updates, the thread's state, ``Command(resume=...)``."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("langgraph")
pytest.importorskip("langchain")

from langgraph_sdk import get_client, get_sync_client

from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


@pytest.mark.sdk(
    "runs.list",
    "runs.stream",
    "runs.stream[LangGraph graph]",
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.search",
)
async def test_map_reduce_streams_interrupts_and_resumes(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = await client.threads.create()
        values, updates = [], []
        async for part in client.runs.stream(
            thread["thread_id"], "lg_map_reduce", input={"topic": " hi "}, stream_mode=["values", "updates"]
        ):
            if part.event == "values":
                values.append(part.data)
            elif part.event == "updates":
                updates.append(part.data)
        assert values[0] == {"topic": " hi "}
        assert {"topic": "hi", "items": ["HI-0", "HI-1", "HI-2"]} in values
        assert updates[0] == {"plan": {"topic": "hi"}}
        # Send map-reduce: three tasks of one node in one superstep, reduced with operator.add.
        assert sorted(u["work"]["items"][0] for u in updates if "work" in u) == ["HI-0", "HI-1", "HI-2"]
        (interrupt,) = updates[-1]["__interrupt__"]
        assert interrupt["value"] == {"question": "approve?", "items": ["HI-0", "HI-1", "HI-2"]}

        state = await client.threads.get_state(thread["thread_id"])
        assert state["next"] == ["ask"]
        assert [i["id"] for i in state["interrupts"]] == [interrupt["id"]]
        (run,) = await client.runs.list(thread["thread_id"])
        assert run["status"] == "interrupted"

        final = await client.runs.wait(thread["thread_id"], "lg_map_reduce", command={"resume": "yes"})
        assert final == {"topic": "hi", "items": ["HI-0", "HI-1", "HI-2"], "answer": "yes"}
        state = await client.threads.get_state(thread["thread_id"])
        assert state["next"] == [] and state["values"]["answer"] == "yes"
        (thread_row,) = [t for t in await client.threads.search() if t["thread_id"] == thread["thread_id"]]
        assert thread_row["status"] == "idle"


@pytest.mark.sdk("runs.list", "runs.wait", "threads.create")
def test_sync_client_runs_the_graph_again_on_the_same_thread(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()
        client.runs.wait(thread["thread_id"], "lg_map_reduce", input={"topic": "a"})
        first = client.runs.wait(thread["thread_id"], "lg_map_reduce", command={"resume": 1})
        assert first["items"] == ["A-0", "A-1", "A-2"] and first["answer"] == "1"
        # A second run continues the thread, as LangGraph does: the reducer adds to its items.
        client.runs.wait(thread["thread_id"], "lg_map_reduce", input={"topic": "b"})
        second = client.runs.wait(thread["thread_id"], "lg_map_reduce", command={"resume": 2})
        assert second["items"] == ["A-0", "A-1", "A-2", "B-0", "B-1", "B-2"]
        assert second["answer"] == "2"
        assert [r["status"] for r in client.runs.list(thread["thread_id"])] == ["success", "success"]


@pytest.mark.sdk("runs.stream", "runs.stream[LangGraph graph]", "runs.wait", "threads.create")
async def test_create_agent_calls_its_tool(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = await client.threads.create()
        out = await client.runs.wait(
            thread["thread_id"], "lg_agent", input={"messages": [{"role": "user", "content": "1 + 2?"}]}
        )
        kinds = [(m["type"], m["content"]) for m in out["messages"]]
        assert kinds == [("human", "1 + 2?"), ("ai", ""), ("tool", "3"), ("ai", "the sum is 3")]
        assert out["messages"][1]["tool_calls"][0]["name"] == "add"
        # What the run ended with (its last checkpoint streamed) is the thread's state read back.
        assert (await client.threads.get_state(thread["thread_id"]))["values"] == out
        # ... recorded as what changed since the run's last step: the last answer, not every message.
        (run,) = await client.runs.list(thread["thread_id"])
        page = await client.http.get(f"/runs/{run['run_id']}/events", params={"limit": 1000})
        (end,) = [e["data"] for e in page["events"] if e["type"] == "run_completed"]
        assert end["carry"] is True and end["custom_values"] == {}
        assert [m["content"] for m in end["appended"]["messages"]] == ["the sum is 3"]
        updates = [
            part.data
            async for part in client.runs.stream(
                thread["thread_id"],
                "lg_agent",
                input={"messages": [{"role": "user", "content": "again"}]},
                stream_mode="updates",
            )
            if part.event == "updates"
        ]
        assert [next(iter(u)) for u in updates] == ["model", "tools", "model"]


@pytest.mark.sdk(
    "runs.cancel",
    "runs.cancel[LangGraph graph]",
    "runs.create",
    "runs.get",
    "threads.create",
    "threads.get_state",
)
async def test_cancel_stops_the_graph_and_ends_the_run(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "lg_nap", input={"seconds": 60})
        deadline = time.monotonic() + 30
        while (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] != "running":
            assert time.monotonic() < deadline, "the run never started"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
        assert time.monotonic() - started < 20  # the node was stopped, not waited for
        cancelled = await client.runs.get(thread["thread_id"], run["run_id"])
        # As on LangGraph Platform: "interrupted"; DuraGraph's own status says why.
        assert (cancelled["status"], cancelled["duragraph_status"]) == ("interrupted", "cancelled")
        state = await client.threads.get_state(thread["thread_id"])
        assert "done" not in state["values"]


@pytest.mark.sdk(
    "runs.list",
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[LangGraph graph]",
)
async def test_state_edits_reach_langgraph(server: DevServer) -> None:
    """update_state on an interrupted thread, then the resume; and on a finished one, then the
    next run: LangGraph's own state (what the graph computes from) has the edit."""
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "x"})
        await client.threads.update_state(thread, {"topic": "edited"}, as_node="work")
        assert (await client.threads.get_state(thread))["values"]["topic"] == "edited"
        final = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "ok"})
        assert final["topic"] == "edited" and final["answer"] == "ok"

        await client.threads.update_state(thread, {"answer": "changed"}, as_node="ask")
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "y"})
        state = await client.threads.get_state(thread)
        runs = await client.runs.list(thread)
        assert state["next"] == ["ask"], [(r["status"], r.get("error")) for r in runs]
        # The values of the interrupted run are LangGraph's: they carry the edit made before it.
        assert state["values"]["answer"] == "changed"
        assert state["values"]["items"] == ["X-0", "X-1", "X-2", "Y-0", "Y-1", "Y-2"]


@pytest.mark.sdk("runs.stream", "runs.stream[LangGraph graph]", "threads.create")
async def test_tokens_and_custom_events_stream(server: DevServer) -> None:
    """A chat model's tokens (LangGraph's "messages" mode) and a stream writer's payloads reach
    the SDK's "messages-tuple" and "custom" streams."""
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        tokens, custom = [], []
        async for part in client.runs.stream(
            thread,
            "lg_chat",
            input={"messages": [{"role": "user", "content": "question?"}]},
            stream_mode=["messages-tuple", "custom"],
        ):
            if part.event == "messages":
                message, metadata = part.data
                if message.get("type") in ("AIMessageChunk", "ai"):
                    tokens.append(message["content"])
                    assert metadata["langgraph_node"] == "talk"
            elif part.event == "custom":
                custom.append(part.data)
        assert "".join(tokens) == "the answer is 42"
        assert len(tokens) > 1, "streamed token by token"
        assert custom == [{"progress": "thinking"}]


@pytest.mark.sdk("runs.create", "runs.get", "runs.join", "threads.create")
async def test_a_run_past_its_timeout_ends_timed_out(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        started = time.monotonic()
        run = await client.runs.create(thread, "lg_nap", input={"seconds": 60}, config={"timeout": 1})
        await client.runs.join(thread, run["run_id"])
        assert time.monotonic() - started < 20
        ended = await client.runs.get(thread, run["run_id"])
        assert ended["duragraph_status"] == "timeout", ended


@pytest.mark.sdk("runs.list", "runs.wait", "threads.create")
def test_a_finished_run_ends_in_its_last_steps_commit(server: DevServer) -> None:
    """The last task's writes, LangGraph's last checkpoint (no task left) and ``run_completed``
    are one commit: the run's end costs no commit of its own."""
    import psycopg

    from tests.devserver import owner_database_url

    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()
        client.runs.wait(thread["thread_id"], "lg_map_reduce", input={"topic": "x"})
        client.runs.wait(thread["thread_id"], "lg_map_reduce", command={"resume": "yes"})
        resumed = client.runs.list(thread["thread_id"])[0]  # newest first
        assert resumed["status"] == "success", resumed
        state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["answer"] == "yes" and state["next"] == []
    with psycopg.connect(owner_database_url(server.data_dir)) as conn:
        rows = conn.execute(
            "SELECT type, data->>'node', xmin::text, data ? 'langgraph_writes' FROM duragraph.events "
            "WHERE stream_id = %s ORDER BY version",
            (f"run:{resumed['run_id']}",),
        ).fetchall()
    assert [(r[0], r[1]) for r in rows[-3:]] == [
        ("node_completed", "ask"),
        ("lg_checkpoint", None),
        ("run_completed", None),
    ], rows
    assert rows[-3][3], rows  # the task's writes, inside its node_completed
    assert rows[-3][2] == rows[-2][2] == rows[-1][2], rows


def test_a_step_shares_the_checkpointers_commits(server: DevServer) -> None:
    """The run events go in the checkpointer's transactions (rows of one transaction share their
    ``xmin``), and a run event holds the LangGraph record it records: a task's writes are inside
    its ``node_completed``, a checkpoint inside the ``step_planned`` after it (one event, not
    two), and the writes of a step's last task to finish are committed with both."""
    import psycopg

    from tests.devserver import owner_database_url

    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()
        client.runs.wait(thread["thread_id"], "lg_map_reduce", input={"topic": "x"})
        (run,) = client.runs.list(thread["thread_id"])
    with psycopg.connect(owner_database_url(server.data_dir)) as conn:
        rows = conn.execute(
            "SELECT type, data->>'node', xmin::text, data ? 'langgraph_writes', data ? 'langgraph_checkpoint', "
            # Inside the run event, a record leaves out the id that event has (since 2026-12-05).
            "NOT data->'langgraph_checkpoint' ? 'checkpoint_id', "
            "NOT data->'langgraph_writes' ? 'task_id' "
            "FROM duragraph.events WHERE stream_id = %s ORDER BY version",
            (f"run:{run['run_id']}",),
        ).fetchall()
    kinds = [r[0] for r in rows]
    # Records of their own: the input's (its writes and checkpoint, before any step) and the
    # writes of the task that interrupts the run (no node_completed records it). Every other root
    # task here completes, and every checkpoint leads to a step: they are inside run events.
    first_step = kinds.index("step_planned")
    assert kinds[:first_step] == ["run_created", "run_started", "lg_checkpoint", "lg_writes"], kinds
    # ... committed with the first step (no code of the graph runs before that commit): a
    # fresh run commits run_started, then its first step.
    assert rows[first_step - 2][2] == rows[first_step - 1][2] == rows[first_step][2], rows
    assert [k for k in kinds[first_step:] if k.startswith("lg_")] == ["lg_writes"], kinds
    assert kinds[-2:] == ["lg_writes", "run_interrupted"], kinds
    for kind, node, _, has_writes, has_checkpoint, no_checkpoint_id, no_task_id in rows:
        if kind == "node_completed":
            assert has_writes and no_task_id, (node, rows)
        if kind == "step_planned":
            assert has_checkpoint and no_checkpoint_id, rows
    by_commit: dict[str, list[tuple[str, str | None]]] = {}
    for kind, node, xmin, *_ in rows:
        by_commit.setdefault(xmin, []).append((kind, node))
    # plan (one task): its writes and node_completed, the next checkpoint and step: one commit
    # of two events.
    plan = next(i for i, r in enumerate(rows) if r[0] == "node_completed" and r[1] == "plan")
    assert by_commit[rows[plan][2]] == [("node_completed", "plan"), ("step_planned", None)]
    # The three work tasks of one Send step: the last one to finish goes with the checkpoint
    # and the step_planned that follow the step.
    (last,) = [
        c for c in by_commit.values() if ("node_completed", "work") in c and ("step_planned", None) in c
    ]
    assert sorted(last) == sorted([("node_completed", "work"), ("step_planned", None)]), last
    assert sum(c.count(("node_completed", "work")) for c in by_commit.values()) == 3
