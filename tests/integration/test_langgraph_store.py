"""A real LangGraph graph given DuraGraph's store, run in-process with ``graph.ainvoke``: every
way LangGraph Platform hands a graph its store — ``runtime.store``, ``get_store()``, an injected
``store`` argument, a tool's ``InjectedStore`` — from sync nodes (which LangGraph runs in worker
threads) and async ones; attached at compile time and as the platform attaches it, by copy."""

from __future__ import annotations

import asyncio
import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import InjectedStore, ToolNode
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from duragraph_lab.langgraph.store import PostgresStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class State(TypedDict):
    user: str
    seen: Annotated[list[str], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]


def sync_injected(state: State, store: BaseStore) -> dict[str, Any]:
    store.put(("users", state["user"]), "sync_injected", {"n": 1}, ttl=10)
    return {"seen": [f"sync_injected:{store.get(('users', state['user']), 'sync_injected').value['n']}"]}  # type: ignore[union-attr]


async def async_runtime(state: State, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    await runtime.store.aput(("users", state["user"]), "async_runtime", {"n": 2})
    item = await runtime.store.aget(("users", state["user"]), "async_runtime")
    return {"seen": [f"async_runtime:{item.value['n']}"]}  # type: ignore[union-attr]


def sync_get_store(state: State) -> dict[str, Any]:
    store = get_store()
    store.put(("users", state["user"]), "sync_get_store", {"n": 3})
    found = store.search(("users", state["user"]), filter={"n": {"$gte": 2}})
    return {"seen": [f"sync_get_store:{sorted(i.key for i in found)}"]}


async def async_get_store(state: State) -> dict[str, Any]:
    store = get_store()
    await store.aput(("users", state["user"]), "async_get_store", {"n": 4})
    namespaces = await store.alist_namespaces(prefix=("users",), max_depth=2)
    return {"seen": [f"async_get_store:{('users', state['user']) in namespaces}"]}


@tool
def remember(fact: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Remember a fact about the user (a sync tool: run in a thread)."""
    store.put(("facts",), uuid.uuid4().hex, {"fact": fact})
    return f"remembered {fact}"


@tool
async def recall(store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Recall every fact (an async tool)."""
    return ", ".join(sorted(i.value["fact"] for i in await store.asearch(("facts",))))


def ask_tools(state: State) -> dict[str, Any]:
    calls = [
        {"name": "remember", "args": {"fact": "likes tea"}, "id": "call-1", "type": "tool_call"},
        {"name": "remember", "args": {"fact": "lives in Lyon"}, "id": "call-2", "type": "tool_call"},
    ]
    return {"messages": [AIMessage(content="", tool_calls=calls)]}


def ask_recall(state: State) -> dict[str, Any]:
    call = {"name": "recall", "args": {}, "id": "call-3", "type": "tool_call"}
    return {"messages": [AIMessage(content="", tool_calls=[call])]}


def build() -> StateGraph[State]:
    graph = StateGraph(State)
    for name, fn in [
        ("sync_injected", sync_injected),
        ("async_runtime", async_runtime),
        ("sync_get_store", sync_get_store),
        ("async_get_store", async_get_store),
        ("ask_tools", ask_tools),
        ("ask_recall", ask_recall),
    ]:
        graph.add_node(name, fn)  # type: ignore[call-overload]
    graph.add_node("tools", ToolNode([remember, recall]))
    graph.add_node("tools_again", ToolNode([remember, recall]))
    graph.add_edge(START, "sync_injected")
    graph.add_edge(START, "async_runtime")  # in parallel with the sync node
    graph.add_edge(["sync_injected", "async_runtime"], "sync_get_store")
    graph.add_edge("sync_get_store", "async_get_store")
    graph.add_edge("async_get_store", "ask_tools")
    graph.add_edge("ask_tools", "tools")
    graph.add_edge("tools", "ask_recall")
    graph.add_edge("ask_recall", "tools_again")
    graph.add_edge("tools_again", END)
    return graph


@pytest.mark.parametrize("attach", ["compile", "copy"])
async def test_a_langgraph_graph_uses_the_store_every_way(pool: Any, attach: str) -> None:
    store = PostgresStore(pool)
    if attach == "compile":
        graph = build().compile(store=store)
    else:  # what LangGraph Platform (and DuraGraph's executor) does to every graph it serves
        graph = build().compile().copy(update={"store": store})

    out = await graph.ainvoke({"user": "ada", "seen": [], "messages": []})

    assert sorted(out["seen"]) == [
        "async_get_store:True",
        "async_runtime:2",
        "sync_get_store:['async_runtime', 'sync_get_store']",
        "sync_injected:1",
    ]
    tool_answers = [m.content for m in out["messages"] if isinstance(m, ToolMessage)]
    assert tool_answers == ["remembered likes tea", "remembered lives in Lyon", "likes tea, lives in Lyon"]
    # What the graph wrote is in PostgreSQL, for the next run, another thread, or the API.
    again = PostgresStore(pool)
    assert sorted(i.key for i in await again.asearch(("users", "ada"))) == [
        "async_get_store",
        "async_runtime",
        "sync_get_store",
        "sync_injected",
    ]
    assert len(await again.asearch(("facts",))) == 2


async def test_a_sync_graph_invoked_in_a_thread_uses_the_store(pool: Any) -> None:
    """``graph.invoke`` (sync) from a thread while the store's loop runs: its sync nodes' calls
    are carried out on that loop."""
    store = PostgresStore(pool)
    graph = StateGraph(State)
    graph.add_node("sync_injected", sync_injected)
    graph.add_edge(START, "sync_injected")
    compiled = graph.compile(store=store)
    out = await asyncio.to_thread(lambda: compiled.invoke({"user": "bob", "seen": [], "messages": []}))
    assert out["seen"] == ["sync_injected:1"]
