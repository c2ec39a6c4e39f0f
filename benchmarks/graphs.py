"""Graphs the benchmarks serve from worker processes."""

from __future__ import annotations

from typing import TypedDict

from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START


class Counter(TypedDict, total=False):
    n: int


def linear(steps: int, name: str) -> CompiledGraph:
    """``steps`` nodes in a row, each adding one: the engine's overhead with trivial node code."""
    g = StateGraph(Counter)
    prev = START
    for i in range(steps):

        async def step(state: Counter) -> Counter:
            return {"n": state.get("n", 0) + 1}

        g.add_node(f"s{i}", step)
        g.add_edge(prev, f"s{i}")
        prev = f"s{i}"
    g.add_edge(prev, END)
    return g.compile(name=name)


linear100 = linear(100, "linear100")
linear20 = linear(20, "linear20")
