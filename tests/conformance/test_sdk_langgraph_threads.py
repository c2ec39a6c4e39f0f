"""A LangGraph thread's history and forks through the official ``langgraph-sdk``: a run created
at an earlier checkpoint (time travel) starts LangGraph from that checkpoint, and the thread's
later history stays a branch of its own, as on LangGraph Platform."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytest.importorskip("langgraph")

from langgraph_sdk import get_client, get_sync_client

from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


FIRST = ["A-0", "A-1", "A-2"]


def _asking_with_first_items(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The checkpoint where the first run waited at ``ask`` with only its own items."""
    (found,) = [h for h in history if h["next"] == ["ask"] and h["values"].get("items") == FIRST]
    return found


@pytest.mark.sdk(
    "runs.wait",
    "runs.wait[LangGraph checkpoint]",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
)
async def test_a_run_at_an_earlier_checkpoint_starts_langgraph_there(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "b"})
        done = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "second"})
        assert done["items"] == [*FIRST, "B-0", "B-1", "B-2"] and done["answer"] == "second"

        at = _asking_with_first_items(await client.threads.get_history(thread, limit=100))
        forked = await client.runs.wait(
            thread, "lg_map_reduce", input=None, checkpoint_id=at["checkpoint"]["checkpoint_id"]
        )
        # LangGraph went on from that checkpoint: the second run's items are not in its state.
        assert forked["items"] == FIRST, forked
        state = await client.threads.get_state(thread)
        assert state["next"] == ["ask"] and state["values"]["items"] == FIRST
        final = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "forked"})
        assert final["items"] == FIRST and final["answer"] == "forked"
        # The later history is still there, as a branch.
        history = await client.threads.get_history(thread, limit=100)
        assert any(h["values"].get("answer") == "second" for h in history)


@pytest.mark.sdk("runs.wait", "runs.wait[LangGraph checkpoint]", "threads.create", "threads.get_history")
def test_sync_client_forks_with_new_input(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        client.runs.wait(thread, "lg_map_reduce", input={"topic": "b"})
        client.runs.wait(thread, "lg_map_reduce", command={"resume": "second"})
        at = _asking_with_first_items(client.threads.get_history(thread, limit=100))
        # New input at an earlier checkpoint: LangGraph starts there with the input.
        forked = client.runs.wait(
            thread, "lg_map_reduce", input={"topic": "c"}, checkpoint_id=at["checkpoint"]["checkpoint_id"]
        )
        assert forked["items"] == [*FIRST, "C-0", "C-1", "C-2"], forked


@pytest.mark.sdk(
    "runs.wait",
    "runs.wait[LangGraph checkpoint]",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
)
async def test_langgraph_checkpoint_ids_everywhere(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "b"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "second"})
        at = _asking_with_first_items(await client.threads.get_history(thread, limit=100))
        # The thread's checkpoints are LangGraph's: their ids are LangGraph's own (uuid6).
        lg_id = at["checkpoint"]["checkpoint_id"]
        assert lg_id.startswith("1f") and at["metadata"]["source"] == "loop"
        same = await client.threads.get_state(thread, checkpoint_id=lg_id)
        assert same["checkpoint"] == at["checkpoint"]
        assert same["values"] == at["values"] and same["next"] == ["ask"]
        by_ref = await client.threads.get_state(
            thread, checkpoint={"checkpoint_id": lg_id, "checkpoint_ns": ""}
        )
        assert by_ref["checkpoint"] == at["checkpoint"]
        older = await client.threads.get_history(thread, limit=100, before={"checkpoint_id": lg_id})
        assert older and all(h["seq"] < at["seq"] for h in older)
        forked = await client.runs.wait(
            thread, "lg_map_reduce", input=None, checkpoint={"checkpoint_id": lg_id}
        )
        assert forked["items"] == FIRST, forked
        missing = "1f0c0000-0000-6000-8000-000000000000"
        with pytest.raises(httpx.HTTPStatusError, match="has no checkpoint") as err:
            await client.threads.get_state(thread, checkpoint_id=missing)
        assert err.value.response.status_code == 404


@pytest.mark.sdk(
    "runs.wait",
    "runs.wait[LangGraph checkpoint]",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[LangGraph graph]",
    "threads.update_state[checkpoint_id]",
)
async def test_update_state_at_an_earlier_checkpoint_branches_langgraph(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "b"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "second"})
        at = _asking_with_first_items(await client.threads.get_history(thread, limit=100))
        made = await client.threads.update_state(
            thread, {"topic": "edited"}, as_node="work", checkpoint_id=at["checkpoint"]["checkpoint_id"]
        )
        edited = await client.threads.get_state(thread)
        assert made["checkpoint"]["checkpoint_id"] == edited["checkpoint"]["checkpoint_id"]
        assert edited["values"]["topic"] == "edited" and edited["values"]["items"] == FIRST, edited
        assert edited["next"] == ["ask"]
        final = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "after edit"})
        assert final == {"topic": "edited", "items": FIRST, "answer": "after edit"}, final


@pytest.mark.sdk(
    "runs.wait",
    "runs.wait[LangGraph checkpoint]",
    "threads.create",
    "threads.get_history",
    "threads.get_state",
    "threads.update_state",
    "threads.update_state[LangGraph graph]",
    "threads.update_state[checkpoint_id]",
)
def test_sync_update_state_at_a_checkpoint_then_a_run_without_input(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        at = _asking_with_first_items(client.threads.get_history(thread, limit=100))
        client.threads.update_state(
            thread, {"items": ["EXTRA"]}, as_node="work", checkpoint_id=at["checkpoint_id"]
        )
        again = client.runs.wait(thread, "lg_map_reduce", input=None)
        # LangGraph applied the edit (with its reducer) at the earlier checkpoint, then ran ask.
        assert again["items"] == [*FIRST, "EXTRA"], again
        assert client.threads.get_state(thread)["next"] == ["ask"]


@pytest.mark.sdk("runs.wait", "runs.wait[LangGraph checkpoint]", "threads.create", "threads.get_history")
async def test_a_fork_while_the_thread_waits_at_an_interrupt(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        waiting = await client.runs.wait(thread, "lg_map_reduce", input={"topic": "b"})
        assert waiting["items"] == [*FIRST, "B-0", "B-1", "B-2"]
        at = _asking_with_first_items(await client.threads.get_history(thread, limit=100))
        forked = await client.runs.wait(
            thread, "lg_map_reduce", input=None, checkpoint_id=at["checkpoint_id"]
        )
        assert forked["items"] == FIRST, forked
        final = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "forked"})
        assert final == {"topic": "a", "items": FIRST, "answer": "forked"}, final
