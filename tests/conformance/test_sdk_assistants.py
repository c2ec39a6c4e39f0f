"""Assistants through the official ``langgraph-sdk`` client."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.conformance.helpers import new_thread, tag

# The demo assistants and tests/api_graphs.py, as the test server registers them.
GRAPH_IDS = {"chat", "approval", "map_reduce", "slow", "asking", "breakpoint", "custom", "nested"}


@pytest.mark.sdk("assistants.count", "assistants.get", "assistants.search")
async def test_system_assistants_search_count_get(client: LangGraphClient) -> None:
    system = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
    by_graph = {a["graph_id"]: a for a in system}
    assert set(by_graph) >= GRAPH_IDS
    assert all(a["version"] == 1 and a["name"] == a["graph_id"] for a in system)
    assert await client.assistants.count(metadata={"created_by": "system"}) == len(system)

    # get: by the assistant id, or by a graph id (its default assistant).
    chat = await client.assistants.get("chat")
    assert chat == await client.assistants.get(by_graph["chat"]["assistant_id"])
    assert chat["graph_id"] == "chat" and chat["config"] == {} and chat["metadata"]["created_by"] == "system"

    only = await client.assistants.search(graph_id="map_reduce", metadata={"created_by": "system"})
    assert [a["assistant_id"] for a in only] == [by_graph["map_reduce"]["assistant_id"]]
    assert await client.assistants.count(graph_id="map_reduce", metadata={"created_by": "system"}) == 1

    page = await client.assistants.search(
        metadata={"created_by": "system"}, limit=2, response_format="object"
    )
    assert len(page["assistants"]) == 2 and page["next"] == "2"
    picked = await client.assistants.search(
        metadata={"created_by": "system"}, limit=100, select=["assistant_id", "graph_id"]
    )
    assert all(set(a) == {"assistant_id", "graph_id"} for a in picked)


@pytest.mark.sdk("assistants.get_graph")
async def test_get_graph_and_xray(client: LangGraphClient) -> None:
    graph = await client.assistants.get_graph("nested")
    assert [n["id"] for n in graph["nodes"]] == ["__start__", "before", "sub", "after", "__end__"]
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("__start__", "before"),
        ("before", "sub"),
        ("sub", "after"),
        ("after", "__end__"),
    }
    assert {n["id"]: n["type"] for n in graph["nodes"]}["sub"] == "runnable"

    xray = await client.assistants.get_graph("nested", xray=True)
    ids = [n["id"] for n in xray["nodes"]]
    assert "sub" not in ids and {"sub:i1", "sub:i2"} <= set(ids)
    edges = {(e["source"], e["target"]) for e in xray["edges"]}
    assert {("before", "sub:i1"), ("sub:i1", "sub:i2"), ("sub:i2", "after")} <= edges
    assert await client.assistants.get_graph("nested", xray=1) == xray

    chat = await client.assistants.get_graph("chat")
    conditional = {(e["source"], e["target"]) for e in chat["edges"] if e.get("conditional")}
    assert conditional == {("agent", "tools"), ("agent", "__end__")}


@pytest.mark.sdk("assistants.get_schemas", "assistants.get_subgraphs")
async def test_get_schemas_and_subgraphs(client: LangGraphClient) -> None:
    schemas = await client.assistants.get_schemas("asking")
    assert schemas["graph_id"] == "asking"
    for key in ("input_schema", "output_schema", "state_schema"):
        assert {"n", "log", "answer"} <= set(schemas[key]["properties"])
    assert schemas["state_schema"]["properties"]["log"]["type"] == "array"
    assert set(schemas) >= {"config_schema", "context_schema"}

    subgraphs = await client.assistants.get_subgraphs("nested")
    assert list(subgraphs) == ["sub"]
    assert "n" in subgraphs["sub"]["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs("nested", namespace="sub") == subgraphs
    assert await client.assistants.get_subgraphs("nested", recurse=True) == subgraphs
    assert await client.assistants.get_subgraphs("chat") == {}


@pytest.mark.sdk(
    "assistants.count",
    "assistants.create",
    "assistants.delete",
    "assistants.get",
    "assistants.get_versions",
    "assistants.search",
    "assistants.set_latest",
    "assistants.update",
    "runs.list",
    "runs.wait",
    "threads.create",
)
async def test_assistant_lifecycle_versions_and_runs(client: LangGraphClient) -> None:
    labels = tag()
    assistant_id = str(uuid.uuid4())
    created = await client.assistants.create(
        "slow",
        assistant_id=assistant_id,
        config={"tags": ["v1"]},
        metadata=labels,
        name="first",
    )
    assert created["assistant_id"] == assistant_id and created["version"] == 1
    assert created["name"] == "first" and created["config"] == {"tags": ["v1"]}

    # if_exists: do_nothing answers the existing one; raise (the default) is a 409.
    same = await client.assistants.create("slow", assistant_id=assistant_id, if_exists="do_nothing", name="x")
    assert same["name"] == "first" and same["version"] == 1
    with pytest.raises(ConflictError) as conflict:
        await client.assistants.create("slow", assistant_id=assistant_id, if_exists="raise")
    assert isinstance(conflict.value, httpx.HTTPStatusError) and conflict.value.response.status_code == 409
    with pytest.raises(NotFoundError):
        await client.assistants.create("no-such-graph")

    updated = await client.assistants.update(assistant_id, name="second", metadata={"round": 2})
    assert updated["version"] == 2 and updated["name"] == "second"
    assert updated["metadata"] == {**labels, "round": 2}  # merged
    assert updated["config"] == {"tags": ["v1"]}  # kept

    versions = await client.assistants.get_versions(assistant_id)
    assert [(v["version"], v["name"]) for v in versions] == [(2, "second"), (1, "first")]
    assert [
        v["version"] for v in await client.assistants.get_versions(assistant_id, metadata={"round": 2})
    ] == [2]

    latest = await client.assistants.set_latest(assistant_id, 1)
    assert latest["version"] == 1 and latest["name"] == "first" and latest["metadata"] == labels
    assert (await client.assistants.get(assistant_id))["name"] == "first"

    assert [a["assistant_id"] for a in await client.assistants.search(metadata=labels)] == [assistant_id]
    assert await client.assistants.count(metadata=labels) == 1

    # A run of this assistant is recorded as its run.
    thread_id = await new_thread(client)
    assert (await client.runs.wait(thread_id, assistant_id, input={"n": 1}))["n"] == 6
    [run] = await client.runs.list(thread_id)
    assert run["assistant_id"] == assistant_id

    await client.assistants.delete(assistant_id)
    with pytest.raises(NotFoundError):
        await client.assistants.get(assistant_id)
    assert await client.assistants.search(metadata=labels) == []
    with pytest.raises(NotFoundError):
        await client.assistants.delete(assistant_id)


@pytest.mark.sdk(
    "assistants.count",
    "assistants.create",
    "assistants.delete",
    "assistants.get",
    "assistants.get_graph",
    "assistants.get_schemas",
    "assistants.get_subgraphs",
    "assistants.get_versions",
    "assistants.search",
    "assistants.set_latest",
    "assistants.update",
)
def test_sync_client_assistants(sync_client: SyncLangGraphClient) -> None:
    labels = tag()
    created = sync_client.assistants.create("nested", metadata=labels, name="first")
    assistant_id = created["assistant_id"]
    assert created["version"] == 1 and created["graph_id"] == "nested"
    same = sync_client.assistants.create("nested", assistant_id=assistant_id, if_exists="do_nothing")
    assert same["name"] == "first"
    assert sync_client.assistants.update(assistant_id, name="second")["version"] == 2
    assert [v["version"] for v in sync_client.assistants.get_versions(assistant_id)] == [2, 1]
    assert sync_client.assistants.set_latest(assistant_id, 1)["name"] == "first"
    assert sync_client.assistants.get(assistant_id)["name"] == "first"
    assert [a["assistant_id"] for a in sync_client.assistants.search(metadata=labels)] == [assistant_id]
    assert sync_client.assistants.count(metadata=labels) == 1

    graph = sync_client.assistants.get_graph(assistant_id, xray=True)
    assert {"sub:i1", "sub:i2"} <= {n["id"] for n in graph["nodes"]}
    assert "n" in sync_client.assistants.get_schemas(assistant_id)["state_schema"]["properties"]
    assert list(sync_client.assistants.get_subgraphs(assistant_id)) == ["sub"]

    sync_client.assistants.delete(assistant_id)
    with pytest.raises(NotFoundError):
        sync_client.assistants.get(assistant_id)
