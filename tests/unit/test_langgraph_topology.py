"""A LangGraph graph's topology, from the graph itself, in the shape the API and dashboard draw."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal

import pytest

pytest.importorskip("langgraph")

from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command
from typing_extensions import TypedDict

from duragraph_lab.control.topology import drawing
from duragraph_lab.langgraph.sources import CompiledSource, FactorySource
from duragraph_lab.langgraph.topology import GraphBuildError, describe, describe_source


class State(TypedDict):
    messages: Annotated[list[Any], add_messages]
    total: Annotated[int, operator.add]
    note: str


def a(state: State) -> dict[str, Any]:
    return {"total": 1}


def b(state: State) -> dict[str, Any]:
    return {"note": "b"}


def c(state: State) -> Command[Literal["a"]]:
    return Command(goto="a")


def route(state: State) -> Literal["b", "__end__"]:
    return "b"


def graph() -> Any:
    inner = StateGraph(State)
    inner.add_node("inner", a)
    inner.add_edge(START, "inner")
    outer = StateGraph(State)
    outer.add_node("a", a)
    outer.add_node("b", b)
    outer.add_node("c", c)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "a")
    outer.add_conditional_edges("a", route)
    outer.add_edge("b", "sub")
    outer.add_conditional_edges("sub", lambda s: "again", {"again": "c", "done": END})
    return outer.compile(interrupt_before=["b"])


def test_nodes_edges_branches_and_subgraphs() -> None:
    described = describe("agent", graph(), "An agent")
    topo = described.topology
    assert described.engine == "langgraph" and topo["engine"] == "langgraph"
    assert described.description == "An agent"
    assert described.nodes == ["a", "b", "c", "sub"]
    assert [(n["id"], n["kind"]) for n in topo["nodes"]] == [
        ("__start__", "start"),
        ("a", "node"),
        ("b", "node"),
        ("c", "node"),
        ("sub", "subgraph"),
        ("__end__", "end"),
    ]
    edges = {(e["source"], e["target"]): e for e in topo["edges"]}
    assert edges[("__start__", "a")]["kind"] == "static"
    assert edges[("a", "b")] == {
        "source": "a",
        "target": "b",
        "kind": "conditional",
        "conditional": True,
        "label": "b",
        "inferred": False,
    }
    assert edges[("a", "__end__")]["conditional"] is True
    assert edges[("sub", "c")]["label"] == "again" and edges[("sub", "__end__")]["label"] == "done"
    assert edges[("c", "a")]["conditional"] is True  # a Command destination
    inner = next(n for n in topo["nodes"] if n["id"] == "sub")["subgraph"]
    assert [n["id"] for n in inner["nodes"]] == ["__start__", "inner", "__end__"]
    assert described.channels == {"messages": "add_messages", "total": "add", "note": "replace"}
    assert topo["interrupt_before"] == ["b"]
    assert set(topo["layout"]["nodes"]) == {"__start__", "a", "b", "c", "sub", "__end__"}
    assert topo["schemas"]["input_schema"]["properties"].keys() == {"messages", "total", "note"}
    assert "sub" in topo["subgraph_schemas"]


def test_the_api_drawing_expands_the_subgraph() -> None:
    topo = describe("agent", graph()).topology
    flat = drawing(topo, xray=True)
    ids = [n["id"] for n in flat["nodes"]]
    assert "sub:inner" in ids and "sub" not in ids
    assert {"source": "b", "target": "sub:inner"}.items() <= next(
        e for e in flat["edges"] if e["source"] == "b"
    ).items()


def test_the_version_follows_the_code() -> None:
    first = describe("agent", graph()).version
    assert describe("agent", graph()).version == first
    other = StateGraph(State)
    other.add_node("a", b)  # same drawing, other code
    other.add_edge(START, "a")
    same_shape = StateGraph(State)
    same_shape.add_node("a", a)
    same_shape.add_edge(START, "a")
    assert describe("g", other.compile()).version != describe("g", same_shape.compile()).version


def test_a_factory_is_built_to_be_described() -> None:
    seen: list[Any] = []

    def factory(config: Any) -> Any:
        seen.append(config)
        return graph()

    for source in (FactorySource("agent", factory), CompiledSource("agent", graph())):
        described = asyncio.run(describe_source(source))
        assert described.nodes == ["a", "b", "c", "sub"]
    assert seen == [{"configurable": {}}]


def test_a_factory_that_cannot_build_is_one_line() -> None:
    def factory() -> Any:
        raise RuntimeError("OPENAI_API_KEY is not set\nmore detail")

    with pytest.raises(GraphBuildError) as caught:
        asyncio.run(describe_source(FactorySource("agent", factory)))
    assert (
        str(caught.value)
        == "graph 'agent': building it to draw it failed: RuntimeError: OPENAI_API_KEY is not set"
    )
    with pytest.raises(
        GraphBuildError, match=r"expected a compiled LangGraph graph \(returned by .*\), got str"
    ):
        asyncio.run(describe_source(FactorySource("agent", lambda: "not a graph")))


def test_the_version_is_the_same_in_every_process() -> None:
    """Several workers serve one project: each must compute the same version, or every start
    would record the graph again."""
    import subprocess
    import sys

    code = (
        "from tests.unit.test_langgraph_topology import graph\n"
        "from duragraph_lab.langgraph.topology import describe\n"
        "print(describe('agent', graph()).version)\n"
    )
    versions = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert versions == {describe("agent", graph()).version}
