"""Threads, state and history through the official ``langgraph-sdk`` client."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.conformance.helpers import new_thread, progressed, tag

LOG5 = ["s0", "s1", "s2", "s3", "s4"]


@pytest.mark.sdk(
    "threads.create",
    "threads.delete",
    "threads.get",
    "threads.get_history",
    "threads.get_state",
    "threads.prune",
    "threads.search",
    "threads.update",
)
async def test_thread_create_get_update_delete(client: LangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    labels = tag()
    thread = await client.threads.create(thread_id=thread_id, metadata={**labels, "k": "a"})
    assert thread["thread_id"] == thread_id and thread["status"] == "idle"
    assert thread["metadata"] == {**labels, "k": "a"} and thread["values"] is None

    again = await client.threads.create(thread_id=thread_id, if_exists="do_nothing", metadata={"other": 1})
    assert again["metadata"] == thread["metadata"]
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=thread_id, if_exists="raise")

    updated = await client.threads.update(thread_id, metadata={"k": "b", "extra": True})
    assert updated["metadata"] == {**labels, "k": "b", "extra": True}  # merged
    assert (await client.threads.get(thread_id))["metadata"] == updated["metadata"]

    # A thread without runs: an empty state and no history.
    state = await client.threads.get_state(thread_id)
    assert state["values"] == {} and state["next"] == [] and state["checkpoint"] is None
    assert await client.threads.get_history(thread_id) == []

    await client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.delete(thread_id)

    # prune: deletes those that exist.
    doomed = [await new_thread(client, **labels) for _ in range(2)]
    assert await client.threads.prune([*doomed, str(uuid.uuid4())]) == {"pruned_count": 2}
    assert await client.threads.search(metadata=labels) == []


@pytest.mark.sdk("runs.wait", "threads.count", "threads.create", "threads.search")
async def test_thread_search_and_count(client: LangGraphClient) -> None:
    labels = tag()
    finished = await new_thread(client, **labels, kind="finished")
    asking = await new_thread(client, **labels, kind="asking")
    fresh = await new_thread(client, **labels, kind="fresh")
    await client.runs.wait(finished, "slow", input={"n": 0})
    await client.runs.wait(asking, "asking", input={"n": 3})

    found = await client.threads.search(metadata=labels, limit=10)
    assert {t["thread_id"] for t in found} == {finished, asking, fresh}
    statuses = {t["thread_id"]: t["status"] for t in found}
    assert statuses == {finished: "idle", asking: "interrupted", fresh: "idle"}
    values = {t["thread_id"]: t["values"] for t in found}
    assert values[finished] == {"n": 5, "log": LOG5} and values[fresh] is None
    [interrupted] = await client.threads.search(metadata=labels, status="interrupted")
    assert interrupted["thread_id"] == asking
    [(task_id, [intr])] = interrupted["interrupts"].items()
    assert intr["value"] == {"question": "proceed?", "n": 3} and task_id

    assert [t["thread_id"] for t in await client.threads.search(metadata=labels, values={"n": 5})] == [
        finished
    ]
    assert await client.threads.search(metadata=labels, values={"n": 4}) == []
    assert [t["thread_id"] for t in await client.threads.search(metadata={**labels, "kind": "fresh"})] == [
        fresh
    ]
    assert await client.threads.search(metadata=labels, status="busy") == []

    oldest_first = await client.threads.search(metadata=labels, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in oldest_first] == [finished, asking, fresh]
    page = await client.threads.search(
        metadata=labels, sort_by="created_at", sort_order="asc", limit=1, offset=1
    )
    assert [t["thread_id"] for t in page] == [asking]

    assert await client.threads.count(metadata=labels) == 3
    assert await client.threads.count(metadata=labels, status="idle") == 2
    assert await client.threads.count(metadata=labels, values={"n": 5}) == 1


@pytest.mark.sdk("runs.wait", "threads.create", "threads.get_history", "threads.get_state")
async def test_state_history_and_checkpoints(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "slow", input={"n": 0})

    state = await client.threads.get_state(thread_id)
    assert state["values"] == {"n": 5, "log": LOG5} and state["next"] == [] and state["tasks"] == []
    assert state["checkpoint"]["thread_id"] == thread_id and state["checkpoint"]["checkpoint_ns"] == ""
    assert state["metadata"]["source"] == "loop" and state["metadata"]["step"] == 5

    history = await client.threads.get_history(thread_id)
    # Newest first: the input (step -1), then one checkpoint before each of s0..s4, then the end.
    assert [h["metadata"]["step"] for h in history] == [5, 4, 3, 2, 1, 0, -1]
    assert [h["metadata"]["source"] for h in history] == ["loop"] * 6 + ["input"]
    assert [h["next"] for h in history] == [[], ["s4"], ["s3"], ["s2"], ["s1"], ["s0"], ["__start__"]]
    assert [h["values"].get("n") for h in history] == [5, 4, 3, 2, 1, 0, 0]
    assert history[0]["checkpoint"] == state["checkpoint"]
    for newer, older in itertools.pairwise(history):
        assert newer["parent_checkpoint"]["checkpoint_id"] == older["checkpoint"]["checkpoint_id"]
    assert history[-1]["parent_checkpoint"] is None
    # A past checkpoint shows the step's task with its result (LangGraph's pending writes).
    [task] = history[3]["tasks"]
    assert task["name"] == "s2" and task["result"] == {"n": 3, "log": ["s2"]}

    # limit / before (by id and by checkpoint object)
    assert [h["metadata"]["step"] for h in await client.threads.get_history(thread_id, limit=2)] == [5, 4]
    before = history[2]["checkpoint"]
    older = await client.threads.get_history(thread_id, limit=2, before=before["checkpoint_id"])
    assert [h["checkpoint"] for h in older] == [history[3]["checkpoint"], history[4]["checkpoint"]]
    assert await client.threads.get_history(thread_id, limit=2, before=before) == older
    inputs = await client.threads.get_history(thread_id, metadata={"source": "input"})
    assert [h["checkpoint"] for h in inputs] == [history[-1]["checkpoint"]]

    # get_state at a checkpoint (by id, and by checkpoint object) is that history entry.
    at = await client.threads.get_state(thread_id, checkpoint_id=history[3]["checkpoint"]["checkpoint_id"])
    assert at["values"] == {"n": 2, "log": ["s0", "s1"]} and at["next"] == ["s2"]
    assert at["checkpoint"] == history[3]["checkpoint"]
    assert await client.threads.get_state(thread_id, checkpoint=history[3]["checkpoint"]) == at
    with pytest.raises(NotFoundError):
        await client.threads.get_state(thread_id, checkpoint_id=str(uuid.uuid4()))

    # subgraphs=True is accepted (nothing pending here).
    assert (await client.threads.get_state(thread_id, subgraphs=True))["values"] == state["values"]


@pytest.mark.sdk(
    "runs.wait",
    "threads.copy",
    "threads.create",
    "threads.delete",
    "threads.get",
    "threads.get_history",
    "threads.get_state",
)
async def test_copy_thread(client: LangGraphClient) -> None:
    labels = tag()
    thread_id = await new_thread(client, **labels)
    await client.runs.wait(thread_id, "slow", input={"n": 0})
    copy = await client.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id
    assert copy["values"] == {"n": 5, "log": LOG5} and copy["status"] == "idle"
    assert copy["metadata"]["conformance"] == labels["conformance"]
    original_history = await client.threads.get_history(thread_id)
    copied_history = await client.threads.get_history(copy["thread_id"])
    assert [h["values"] for h in copied_history] == [h["values"] for h in original_history]

    # The copy moves on independently.
    assert (await client.runs.wait(copy["thread_id"], "slow", input={"n": 10}))["n"] == 15
    assert (await client.threads.get_state(thread_id))["values"]["n"] == 5
    await client.threads.delete(copy["thread_id"])
    assert (await client.threads.get(thread_id))["values"]["n"] == 5


@pytest.mark.sdk("runs.list", "runs.wait", "threads.create", "threads.get_state", "threads.update_state")
async def test_update_state_then_continue_the_paused_run(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    paused = await client.runs.wait(thread_id, "breakpoint", input={"n": 0})
    assert paused["n"] == 1 and paused["__interrupt__"][0]["node"] == "b"
    assert (await client.threads.get_state(thread_id))["next"] == ["b"]

    result = await client.threads.update_state(thread_id, {"n": 100, "log": ["edited"]})
    edited = await client.threads.get_state(thread_id)
    assert result["checkpoint"]["checkpoint_id"] == edited["checkpoint"]["checkpoint_id"]
    assert edited["values"] == {"n": 100, "log": ["a", "edited"]}  # log has an add reducer
    assert edited["metadata"]["source"] == "update" and edited["next"] == ["b"]

    # A run with no input goes on from the edited state (the same run: a continuation).
    final = await client.runs.wait(thread_id, "breakpoint", input=None)
    assert final == {"n": 110, "log": ["a", "edited", "b"]}
    assert [r["status"] for r in await client.runs.list(thread_id)] == ["success"]


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
async def test_update_state_as_node_decides_what_runs_next(client: LangGraphClient) -> None:
    """As on LangGraph Platform: the edit is applied as if ``as_node`` had just completed, and the
    nodes its edges lead to run next; a run with no input continues from there."""
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "slow", input={"n": 0})
    await client.threads.update_state(thread_id, {"n": 1000}, as_node="s3")
    state = await client.threads.get_state(thread_id)
    assert state["values"] == {"n": 1000, "log": LOG5} and state["next"] == ["s4"]
    assert state["metadata"]["source"] == "update" and state["metadata"]["writes"] == {"s3": {"n": 1000}}
    with pytest.raises(UnprocessableEntityError):
        await client.threads.update_state(thread_id, {"n": 1}, as_node="no-such-node")
    assert (await client.threads.get_state(thread_id))["next"] == ["s4"]  # the refused edit changed nothing
    assert await client.runs.wait(thread_id, "slow", input=None) == {"n": 1001, "log": [*LOG5, "s4"]}
    assert (await client.threads.get_state(thread_id))["next"] == []


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
    "threads.update_state[checkpoint_id]",
)
async def test_update_state_at_an_earlier_checkpoint_with_as_node(client: LangGraphClient) -> None:
    """Time travel: the edit branches from the checkpoint, and as_node decides what runs next there."""
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "slow", input={"n": 0})
    history = await client.threads.get_history(thread_id, limit=20)
    at = next(h for h in history if h["next"] == ["s2"] and h["values"].get("n") == 2)
    await client.threads.update_state(thread_id, {"n": 100}, as_node="s3", checkpoint_id=at["checkpoint_id"])
    state = await client.threads.get_state(thread_id)
    assert state["values"] == {"n": 100, "log": ["s0", "s1"]} and state["next"] == ["s4"]
    assert state["metadata"]["source"] == "update" and state["metadata"]["writes"] == {"s3": {"n": 100}}
    assert await client.runs.wait(thread_id, "slow", input=None) == {"n": 101, "log": ["s0", "s1", "s4"]}


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
async def test_update_state_as_node_evaluates_its_router_on_the_edited_state(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    assert (await client.runs.wait(thread_id, "routed", input={"n": 0}))["log"] == ["a", "b", "d"]
    await client.threads.update_state(thread_id, {"n": 50}, as_node="a")  # a's router: c from 10
    assert (await client.threads.get_state(thread_id))["next"] == ["c"]
    assert (await client.runs.wait(thread_id, "routed", input=None))["log"] == ["a", "b", "d", "c"]
    # Without as_node: the node that wrote last (c), whose edge leads to END: nothing next.
    await client.threads.update_state(thread_id, {"n": 1})
    edited = await client.threads.get_state(thread_id)
    assert edited["next"] == [] and edited["metadata"]["writes"] == {"c": {"n": 1}}


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
async def test_update_state_without_as_node_after_a_parallel_step_is_ambiguous(
    client: LangGraphClient,
) -> None:
    """LangGraph's rule: two nodes wrote last together, so the writer must be named."""
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "routed", input={"n": 99}, interrupt_before=["d"])  # b and c, then d
    paused = await client.threads.get_state(thread_id)
    assert paused["next"] == ["d"]
    with pytest.raises(UnprocessableEntityError, match="Ambiguous update, specify as_node"):
        await client.threads.update_state(thread_id, {"n": 1})
    assert (await client.threads.get_state(thread_id))["checkpoint"] == paused["checkpoint"]
    # Named: c leads to END; the paused step is replaced by nothing, and going on ends the run.
    await client.threads.update_state(thread_id, {"n": 1}, as_node="c")
    assert (await client.threads.get_state(thread_id))["next"] == []
    final = await client.runs.wait(thread_id, "routed", input=None)
    assert final["n"] == 1 and "d" not in final["log"]


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
def test_update_state_as_node_sync(sync_client: SyncLangGraphClient) -> None:
    thread_id = sync_client.threads.create(metadata=tag())["thread_id"]
    sync_client.runs.wait(thread_id, "routed", input={"n": 0}, interrupt_before=["d"])
    assert sync_client.threads.get_state(thread_id)["next"] == ["d"]
    sync_client.threads.update_state(thread_id, {"n": 20, "high": 2}, as_node="a")
    state = sync_client.threads.get_state(thread_id)
    assert state["next"] == ["c"] and state["values"]["high"] == 5  # keep_max(5, 2)
    assert state["tasks"][0]["name"] == "c" and state["metadata"]["source"] == "update"
    final = sync_client.runs.wait(thread_id, "routed", input=None)
    assert final["log"] == ["a", "b", "c"] and final["n"] == 20


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[reducers]",
)
async def test_update_state_applies_a_custom_reducer(client: LangGraphClient) -> None:
    """As in LangGraph: the edit goes through the key's reducer (here: keep the highest)."""
    thread_id = await new_thread(client)
    assert (await client.runs.wait(thread_id, "reducing", input={"n": 0}))["high"] == 5
    await client.threads.update_state(thread_id, {"high": 3, "n": 7})
    assert (await client.threads.get_state(thread_id))["values"] == {"high": 5, "n": 7}
    await client.threads.update_state(thread_id, {"high": 9}, as_node="bump")
    assert (await client.threads.get_state(thread_id))["values"] == {"high": 9, "n": 7}
    # The reduced value is what the log records: the next run starts from it.
    assert (await client.runs.wait(thread_id, "reducing", input=None)) == {"high": 9, "n": 8}


def _langgraph_routed() -> Any:
    """``routed`` (tests.api_graphs) built with LangGraph on an InMemorySaver: what LangGraph does."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END as LG_END
    from langgraph.graph import START as LG_START
    from langgraph.graph import StateGraph as LangGraphStateGraph

    from tests.api_graphs import Routed, _route_after_a

    g = LangGraphStateGraph(Routed)
    g.add_node("a", lambda s: {"log": ["a"], "n": s.get("n", 0) + 1, "high": 5})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_node("d", lambda s: {"log": ["d"]})
    g.add_edge(LG_START, "a")
    g.add_conditional_edges("a", _route_after_a, ["b", "c"])
    g.add_edge("b", "d")
    g.add_edge("c", LG_END)
    g.add_edge("d", LG_END)
    return g.compile(checkpointer=InMemorySaver())


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
@pytest.mark.parametrize("as_node", [None, "__start__", "a", "b"])
async def test_update_state_on_a_thread_without_runs_decides_next_as_langgraph(
    client: LangGraphClient, as_node: str | None
) -> None:
    """A fresh thread edited: as LangGraph (compared with the same graph on an InMemorySaver),
    the edit counts as ``as_node``'s write (without one: START's), and what it leads to is
    ``next``; a run with no input executes it."""
    pytest.importorskip("langgraph")
    local = _langgraph_routed()
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    edit = {"n": 50, "log": ["x"]}
    await local.aupdate_state(config, edit, as_node=as_node)
    want = await local.aget_state(config)

    thread_id = await new_thread(client, graph_id="routed")
    await client.threads.update_state(thread_id, edit, as_node=as_node)
    state = await client.threads.get_state(thread_id)
    assert state["next"] == list(want.next) and state["next"]  # LangGraph: a, a, c, d
    assert [t["name"] for t in state["tasks"]] == [t.name for t in want.tasks]
    assert state["values"] == {"n": 50, "log": ["x"]}
    assert state["metadata"]["source"] == want.metadata["source"] == "update"
    assert state["metadata"]["step"] == want.metadata["step"] == 0

    done = await client.runs.wait(thread_id, "routed", input=None)
    final = await local.ainvoke(None, config)
    assert {k: done.get(k) for k in ("n", "log")} == {k: final.get(k) for k in ("n", "log")}
    assert (await client.threads.get_state(thread_id))["next"] == []


@pytest.mark.sdk(
    "threads.create", "threads.get_state", "threads.update_state", "threads.update_state[as_node]"
)
async def test_update_state_on_a_thread_without_runs_checks_as_node(client: LangGraphClient) -> None:
    thread_id = await new_thread(client, graph_id="routed")
    with pytest.raises(UnprocessableEntityError, match="no-such-node"):
        await client.threads.update_state(thread_id, {"n": 1}, as_node="no-such-node")
    assert (await client.threads.get_state(thread_id))["checkpoint"] is None  # nothing written


def _langgraph_ask_in_parallel() -> Any:
    """``ask_in_parallel`` (tests.api_graphs) built with LangGraph on an InMemorySaver."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END as LG_END
    from langgraph.graph import START as LG_START
    from langgraph.graph import StateGraph as LangGraphStateGraph
    from langgraph.types import interrupt as lg_interrupt

    from tests.api_graphs import Steps

    def c(s: Steps) -> Steps:
        return {"log": [f"c:{lg_interrupt('ok?')}"]}

    g = LangGraphStateGraph(Steps)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", c)
    g.add_node("d", lambda s: {"log": ["d"]})
    g.add_edge(LG_START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge(["b", "c"], "d")
    g.add_edge("d", LG_END)
    return g.compile(checkpointer=InMemorySaver())


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
@pytest.mark.parametrize("as_node", [None, "a", "b", "d"])
async def test_update_state_while_paused_in_the_middle_of_a_step_reroutes_as_langgraph(
    client: LangGraphClient, as_node: str | None
) -> None:
    """``b`` finished and ``c`` waits for a human in the same step: an edit replaces that step, as
    LangGraph does (compared with the same graph on an InMemorySaver): applied to the state the
    step started from (``b``'s write dropped), ``next`` what ``as_node`` leads to (without it: the
    step's writer ``a``, so ``b`` and ``c`` again; ``b`` alone: the join still waits for ``c``);
    a run with no input goes on from there, ``c`` asking again."""
    pytest.importorskip("langgraph")
    local = _langgraph_ask_in_parallel()
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"n": 0}, config)
    thread_id = await new_thread(client)
    paused = await client.runs.wait(thread_id, "ask_in_parallel", input={"n": 0})
    assert (await client.threads.get_state(thread_id))["next"] == list((await local.aget_state(config)).next)
    assert paused["__interrupt__"][0]["node"] == "c"

    await local.aupdate_state(config, {"n": 7}, as_node=as_node)
    await client.threads.update_state(thread_id, {"n": 7}, as_node=as_node)
    want = await local.aget_state(config)
    state = await client.threads.get_state(thread_id)
    assert state["next"] == list(want.next)
    assert {k: state["values"].get(k) for k in ("n", "log")} == {k: want.values.get(k) for k in ("n", "log")}
    assert state["metadata"]["source"] == "update"

    final = await local.ainvoke(None, config)
    done = await client.runs.wait(thread_id, "ask_in_parallel", input=None)
    asks = bool(final.get("__interrupt__"))
    assert bool(done.get("__interrupt__")) == asks
    if asks:
        # Paused mid-step again: the state has the finished task's write (b), as LangGraph's.
        again = await client.threads.get_state(thread_id)
        now = await local.aget_state(config)
        assert again["next"] == list(now.next) == ["c"]
        assert {k: again["values"].get(k) for k in ("n", "log")} == {
            k: now.values.get(k) for k in ("n", "log")
        }
        assert {k: done.get(k) for k in ("n", "log")} == {k: final.get(k) for k in ("n", "log")}
    else:
        assert {k: done.get(k) for k in ("n", "log")} == {k: final.get(k) for k in ("n", "log")}
    assert (await client.threads.get(thread_id))["status"] == ("interrupted" if asks else "idle")


@pytest.mark.sdk(
    "runs.create",
    "runs.get",
    "runs.join",
    "threads.copy",
    "threads.create",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[busy thread]",
)
async def test_state_edits_refused_while_busy(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(thread_id, "slow", input={"n": 0, "sleep": 0.2})
    await progressed(client, thread_id, run["run_id"], 1)
    with pytest.raises(ConflictError):
        await client.threads.update_state(thread_id, {"n": 1})
    with pytest.raises(ConflictError):
        await client.threads.copy(thread_id)
    assert (await client.runs.join(thread_id, run["run_id"]))["n"] == 5


@pytest.mark.sdk("runs.list", "runs.wait", "threads.create", "threads.join_stream")
async def test_thread_join_stream_follows_runs(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    received: list[tuple[str, Any]] = []
    subscribed = asyncio.Event()

    async def follow() -> None:
        stream = await client.threads.join_stream(thread_id)
        subscribed.set()
        async for part in stream:
            received.append((part.event, part.data))
            if part.event == "metadata" and part.data.get("status") == "run_done":
                return

    follower = asyncio.create_task(follow())
    await subscribed.wait()
    # The run may start before the stream is connected: a thread stream replays from the start.
    result = await client.runs.wait(thread_id, "slow", input={"n": 0})
    await asyncio.wait_for(follower, 20)
    [run] = await client.runs.list(thread_id)
    assert received[0] == ("metadata", {"run_id": run["run_id"], "attempt": 1})
    assert received[-1] == ("metadata", {"status": "run_done", "run_id": run["run_id"]})
    values = [data for event, data in received if event == "values"]
    assert [v.get("n") for v in values] == [0, 1, 2, 3, 4, 5] and values[-1] == result


@pytest.mark.sdk(
    "assistants.get",
    "runs.list",
    "runs.stream",
    "runs.wait",
    "threads.create",
    "threads.delete",
    "threads.get",
    "threads.get_history",
)
def test_sync_client(sync_client: SyncLangGraphClient) -> None:
    thread = sync_client.threads.create(metadata=tag())
    thread_id = thread["thread_id"]
    assert sync_client.runs.wait(thread_id, "slow", input={"n": 0}) == {"n": 5, "log": LOG5}
    parts = [(p.event, p.data) for p in sync_client.runs.stream(thread_id, "slow", input={"n": 0})]
    assert parts[0][0] == "metadata" and parts[-1] == ("values", {"n": 5, "log": LOG5 + LOG5})
    assert sync_client.threads.get(thread_id)["status"] == "idle"
    assert len(sync_client.runs.list(thread_id)) == 2
    assert sync_client.threads.get_history(thread_id, limit=1)[0]["values"]["n"] == 5
    assert sync_client.assistants.get("slow")["graph_id"] == "slow"
    sync_client.threads.delete(thread_id)


@pytest.mark.sdk(
    "threads.copy",
    "threads.count",
    "threads.create",
    "threads.get",
    "threads.join_stream",
    "threads.prune",
    "threads.search",
    "threads.update",
    "runs.create",
    "runs.join",
)
def test_sync_client_update_join_stream_copy_count_prune(sync_client: SyncLangGraphClient) -> None:
    labels = tag()
    thread_id = sync_client.threads.create(metadata=labels)["thread_id"]
    updated = sync_client.threads.update(thread_id, metadata={"round": 2})
    assert updated["metadata"] == {**labels, "round": 2}  # merged

    # A thread stream replays from the start, so a run created before joining is seen whole.
    run = sync_client.runs.create(thread_id, "slow", input={"n": 0})
    received = []
    for part in sync_client.threads.join_stream(thread_id):
        received.append((part.event, part.data))
        if part.event == "metadata" and part.data.get("status") == "run_done":
            break
    assert received[0] == ("metadata", {"run_id": run["run_id"], "attempt": 1})
    assert [d["n"] for e, d in received if e == "values"] == [0, 1, 2, 3, 4, 5]
    assert sync_client.runs.join(thread_id, run["run_id"]) == {"n": 5, "log": LOG5}

    copy = sync_client.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id and copy["values"] == {"n": 5, "log": LOG5}
    assert {t["thread_id"] for t in sync_client.threads.search(metadata=labels)} == {
        thread_id,
        copy["thread_id"],
    }
    assert sync_client.threads.count(metadata=labels) == 2
    assert sync_client.threads.prune([copy["thread_id"]]) == {"pruned_count": 1}
    assert sync_client.threads.count(metadata=labels) == 1
    assert sync_client.threads.get(thread_id)["values"]["n"] == 5


@pytest.mark.sdk("runs.wait", "threads.create", "threads.get_history", "threads.get_state")
async def test_state_paused_in_the_middle_of_a_step_has_the_finished_tasks_writes_as_langgraph(
    client: LangGraphClient,
) -> None:
    """``b`` finished and ``c`` waits for a human in the same step: the thread's state has ``b``'s
    write applied (its reducer), as LangGraph's ``aget_state`` applies a checkpoint's pending
    writes; the history's entries do not (LangGraph's ``aget_state_history`` neither), and a
    state by checkpoint id is that checkpoint's own (LangGraph: not live, no pending writes)."""
    pytest.importorskip("langgraph")
    local = _langgraph_ask_in_parallel()
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"n": 0}, config)
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "ask_in_parallel", input={"n": 0})
    want = await local.aget_state(config)
    state = await client.threads.get_state(thread_id)
    assert want.values["log"] == ["a", "b"]
    assert {k: state["values"].get(k) for k in ("n", "log")} == {k: want.values.get(k) for k in ("n", "log")}
    assert state["next"] == list(want.next) == ["c"]
    [wanted] = [s async for s in local.aget_state_history(config, limit=1)]
    [latest] = await client.threads.get_history(thread_id, limit=1)
    assert latest["values"]["log"] == wanted.values["log"] == ["a"]
    by_id = await client.threads.get_state(thread_id, checkpoint_id=state["checkpoint"]["checkpoint_id"])
    assert by_id["values"]["log"] == ["a"]


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
@pytest.mark.parametrize("as_node", ["a", "b", "d"])
async def test_update_state_at_an_earlier_checkpoint_in_the_middle_of_a_step_reroutes_as_langgraph(
    client: LangGraphClient, as_node: str
) -> None:
    """The checkpoint of the step where ``b`` finished and ``c`` asked, after the run went on:
    an edit there replaces that step as on the latest state (LangGraph: a checkpoint with
    pending writes), ``next`` what ``as_node`` leads to, and a run with no input goes on."""
    pytest.importorskip("langgraph")
    local = _langgraph_ask_in_parallel()
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"n": 0}, config)
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "ask_in_parallel", input={"n": 0})
    from langgraph.types import Command

    [mid] = [s async for s in local.aget_state_history(config) if s.next == ("b", "c")]
    [ours] = [s for s in await client.threads.get_history(thread_id) if s["next"] == ["b", "c"]]
    await local.ainvoke(Command(resume="yes"), config)
    await client.runs.wait(thread_id, "ask_in_parallel", command={"resume": "yes"})

    await local.aupdate_state(mid.config, {"n": 7}, as_node=as_node)
    await client.threads.update_state(
        thread_id, {"n": 7}, as_node=as_node, checkpoint_id=ours["checkpoint"]["checkpoint_id"]
    )
    want = await local.aget_state(config)
    state = await client.threads.get_state(thread_id)
    assert state["next"] == list(want.next)
    assert {k: state["values"].get(k) for k in ("n", "log")} == {k: want.values.get(k) for k in ("n", "log")}
    assert state["metadata"]["source"] == "update"
    final = await local.ainvoke(None, config)
    done = await client.runs.wait(thread_id, "ask_in_parallel", input=None)
    assert bool(done.get("__interrupt__")) == bool(final.get("__interrupt__"))
    if not final.get("__interrupt__"):
        assert {k: done.get(k) for k in ("n", "log")} == {k: final.get(k) for k in ("n", "log")}


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[as_node]",
)
@pytest.mark.parametrize("as_node", ["a", "b", "d"])
async def test_update_state_right_after_a_finished_task_of_a_step_reroutes_as_langgraph(
    client: LangGraphClient, as_node: str
) -> None:
    """At the point right after ``b`` finished (its ``node_completed`` event's id, a checkpoint
    id here; LangGraph's nearest is the step's checkpoint with ``b``'s pending write), after the
    run went on: the edit replaces the step as on the latest state, not waiting for it."""
    pytest.importorskip("langgraph")
    from langgraph.types import Command

    local = _langgraph_ask_in_parallel()
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"n": 0}, config)
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "ask_in_parallel", input={"n": 0})
    [mid] = [s async for s in local.aget_state_history(config) if s.next == ("b", "c")]
    [run] = await client.runs.list(thread_id)
    page = await client.http.get(f"/runs/{run['run_id']}/events", params={"limit": 1000})
    [b_done] = [e for e in page["events"] if e["type"] == "node_completed" and e["data"]["node"] == "b"]
    await local.ainvoke(Command(resume="yes"), config)
    await client.runs.wait(thread_id, "ask_in_parallel", command={"resume": "yes"})

    await local.aupdate_state(mid.config, {"n": 7}, as_node=as_node)
    await client.threads.update_state(thread_id, {"n": 7}, as_node=as_node, checkpoint_id=b_done["event_id"])
    want = await local.aget_state(config)
    state = await client.threads.get_state(thread_id)
    assert state["next"] == list(want.next)
    assert {k: state["values"].get(k) for k in ("n", "log")} == {k: want.values.get(k) for k in ("n", "log")}
    final = await local.ainvoke(None, config)
    done = await client.runs.wait(thread_id, "ask_in_parallel", input=None)
    assert bool(done.get("__interrupt__")) == bool(final.get("__interrupt__"))
    if not final.get("__interrupt__"):
        assert {k: done.get(k) for k in ("n", "log")} == {k: final.get(k) for k in ("n", "log")}


@pytest.mark.sdk("runs.wait", "threads.create", "threads.get_state")
async def test_state_paused_in_the_middle_of_a_step_reduces_a_custom_reducer_write_as_langgraph(
    client: LangGraphClient,
) -> None:
    """``b`` wrote ``high`` (a custom reducer: the highest value) and ``c`` waits for a human in
    the same step: the thread's state has ``b``'s write reduced by the graph's reducer (the API
    server has the code), as LangGraph's ``aget_state`` (on an InMemorySaver)."""
    pytest.importorskip("langgraph")
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END as LG_END
    from langgraph.graph import START as LG_START
    from langgraph.graph import StateGraph as LangGraphStateGraph
    from langgraph.types import interrupt as lg_interrupt

    from tests.api_graphs import Highest

    def c(s: Highest) -> Highest:
        lg_interrupt("ok?")
        return {"n": 2}

    g = LangGraphStateGraph(Highest)
    g.add_node("a", lambda s: {"n": 1})
    g.add_node("b", lambda s: {"high": 5})
    g.add_node("c", c)
    g.add_edge(LG_START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", LG_END)
    g.add_edge("c", LG_END)
    local = g.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"high": 2}, config)
    thread_id = await new_thread(client)
    await client.runs.wait(thread_id, "ask_in_parallel_highest", input={"high": 2})
    want = await local.aget_state(config)
    state = await client.threads.get_state(thread_id)
    assert want.values == {"high": 5, "n": 1}
    assert state["values"] == want.values and state["next"] == list(want.next) == ["c"]
