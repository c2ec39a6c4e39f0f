"""Graphs the benchmarks serve from worker processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypedDict

from benchmarks.chat_text import message
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import MessagesState, StateGraph
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


class Loop(TypedDict, total=False):
    n: int
    limit: int
    rate: float  # steps per second to pace at (0: as fast as possible)
    t0: float
    delay: float  # seconds the first step waits (lets an SSE client connect first)


async def _tick(state: Loop) -> Loop:
    n = state.get("n", 0)
    t0 = state.get("t0") or time.time() + state.get("delay", 0.0)
    rate = state.get("rate", 0.0)
    if n == 0 and state.get("delay"):
        await asyncio.sleep(state["delay"])
    if rate:
        await asyncio.sleep(max(0.0, t0 + n / rate - time.time()))
    return {"n": n + 1, "t0": t0}


def _again(state: Loop) -> str:
    return "tick" if state.get("n", 0) < state.get("limit", 1) else END


def _loop() -> CompiledGraph:
    """One node run ``limit`` times (paced at ``rate`` steps/s when given): long runs, SSE tickers."""
    g = StateGraph(Loop)
    g.add_node("tick", _tick)
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", _again, ["tick", END])
    return g.compile(name="loop")


def _fanout(width: int) -> CompiledGraph:
    """``width`` nodes in one super-step: a burst of ``width`` commits at once."""
    g = StateGraph(Counter)
    for i in range(width):

        async def leaf(state: Counter) -> Counter:
            return {}

        g.add_node(f"f{i}", leaf)
        g.add_edge(START, f"f{i}")
        g.add_edge(f"f{i}", END)
    return g.compile(name=f"fanout{width}")


class Chat(MessagesState, total=False):
    limit: int


async def _say(state: Chat) -> dict[str, Any]:
    i = len(state["messages"])
    role = "user" if i % 2 == 0 else "ai"
    return {"messages": [{"role": role, "content": message(i), "id": f"m{i}"}]}


def _more(state: Chat) -> str:
    return "say" if len(state["messages"]) < state.get("limit", 1) else END


def _chat() -> CompiledGraph:
    """Each step appends one message: a conversation's storage growth."""
    g = StateGraph(Chat)
    g.add_node("say", _say)
    g.add_edge(START, "say")
    g.add_conditional_edges("say", _more, ["say", END])
    return g.compile(name="chatloop")


loop = _loop()
fanout100 = _fanout(100)
chatloop = _chat()
