"""Graphs served by the API test server (besides the demo assistants).

They are loaded by the server process (``--DuraGraphApp.graphs``), so this module must import
nothing from the tests but itself.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from duragraph_lab import END, START, RetryPolicy, StateGraph, get_stream_writer, interrupt
from duragraph_lab.graph.context import get_context


class Steps(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    sleep: float
    answer: Any
    fail: bool


def _slow() -> Any:
    """``steps`` nodes in a line; each sleeps ``sleep`` seconds (cancel and multitask tests)."""
    g = StateGraph(Steps)
    prev = START
    for i in range(5):

        async def node(s: Steps, i: int = i) -> Steps:
            await asyncio.sleep(float(s.get("sleep") or 0))
            if s.get("fail") and i == 2:
                raise ValueError("step 2 failed as asked")
            return {"n": s.get("n", 0) + 1, "log": [f"s{i}"]}

        g.add_node(f"s{i}", node)
        g.add_edge(prev, f"s{i}")
        prev = f"s{i}"
    g.add_edge(prev, END)
    return g.compile(name="slow")


def _asking() -> Any:
    """Asks a human, then records the answer."""

    def ask(s: Steps) -> Steps:
        return {"answer": interrupt({"question": "proceed?", "n": s.get("n", 0)}), "log": ["asked"]}

    def done(s: Steps) -> Steps:
        return {"log": [f"done:{s.get('answer')}"]}

    g = StateGraph(Steps)
    g.add_node("ask", ask)
    g.add_node("done", done)
    g.add_edge(START, "ask")
    g.add_edge("ask", "done")
    g.add_edge("done", END)
    return g.compile(name="asking")


def _breakpoint() -> Any:
    """Pauses before ``b`` (a compile-time breakpoint)."""
    g = StateGraph(Steps)
    g.add_node("a", lambda s: {"log": ["a"], "n": s.get("n", 0) + 1})
    g.add_node("b", lambda s: {"log": ["b"], "n": s.get("n", 0) + 10})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(name="breakpoint", interrupt_before=["b"])


def _custom() -> Any:
    """Streams custom events while it works."""

    async def work(s: Steps) -> Steps:
        write = get_stream_writer()
        for i in range(3):
            write({"progress": i})
            await asyncio.sleep(0.05)
        return {"log": ["worked"], "n": get_context().step}

    g = StateGraph(Steps)
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    return g.compile(name="custom")


def keep_max(current: int | None, update: int) -> int:
    """A reducer of the test's own (custom: neither append nor add_messages)."""
    return update if current is None else max(current, update)


class Highest(TypedDict, total=False):
    high: Annotated[int, keep_max]
    n: int


def _reducing() -> Any:
    """A key with a custom reducer (``high`` keeps the highest value written)."""
    g = StateGraph(Highest)
    g.add_node("bump", lambda s: {"high": 5, "n": s.get("n", 0) + 1})
    g.add_edge(START, "bump")
    g.add_edge("bump", END)
    return g.compile(name="reducing")


def _nested() -> Any:
    """A parent whose middle node is a subgraph."""
    inner = StateGraph(Steps)
    inner.add_node("i1", lambda s: {"log": ["i1"]})
    inner.add_node("i2", lambda s: {"log": ["i2"], "n": s.get("n", 0) + 1})
    inner.add_edge(START, "i1")
    inner.add_edge("i1", "i2")
    inner.add_edge("i2", END)
    g = StateGraph(Steps)
    g.add_node("before", lambda s: {"log": ["before"]})
    g.add_node("sub", inner.compile(name="inner"))
    g.add_node("after", lambda s: {"log": ["after"]})
    g.add_edge(START, "before")
    g.add_edge("before", "sub")
    g.add_edge("sub", "after")
    g.add_edge("after", END)
    return g.compile(name="nested")


def _lifecycle() -> Any:
    """Every way a node's status changes, in one run: ``flaky`` fails its first attempt and is
    retried; the subgraph ``review`` drafts, then asks a human (an interrupt inside a subgraph)
    and goes on once resumed; ``wait`` sleeps ``sleep`` seconds (long enough to be cancelled)."""

    def flaky(s: Steps) -> Steps:
        if get_context().attempt == 1:
            raise ConnectionError("the first attempt fails")
        return {"log": ["flaky"]}

    def approve(s: Steps) -> Steps:
        return {"answer": interrupt({"question": "approve the draft?"}), "log": ["approve"]}

    async def wait(s: Steps) -> Steps:
        await asyncio.sleep(float(s.get("sleep") or 0))
        return {"log": ["wait"]}

    inner = StateGraph(Steps)
    inner.add_node("draft", lambda s: {"log": ["draft"]})
    inner.add_node("approve", approve)
    inner.add_edge(START, "draft")
    inner.add_edge("draft", "approve")
    inner.add_edge("approve", END)
    g = StateGraph(Steps)
    g.add_node("flaky", flaky, retry=RetryPolicy(initial_interval=0.05, max_attempts=2, jitter=False))
    g.add_node("review", inner.compile(name="review"))
    g.add_node("wait", wait)
    g.add_edge(START, "flaky")
    g.add_edge("flaky", "review")
    g.add_edge("review", "wait")
    g.add_edge("wait", END)
    return g.compile(name="lifecycle")


def _chat_no_tools() -> Any:
    """The chat demo's agent without its tools: arithmetic questions get no calculator (a
    "changed agent" for the evals tests: same inputs, different path and answers)."""
    from duragraph_lab.graph.state_graph import MessagesState
    from duragraph_lab.llm import get_chat_model

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await get_chat_model().ainvoke(list(state["messages"]))]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    return g.compile(name="chat_no_tools")


class Routed(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    high: Annotated[int, keep_max]


def _route_after_a(s: Routed) -> Any:
    n = s.get("n", 0)
    return ["b", "c"] if n >= 100 else "b" if n < 10 else "c"


def _routed(name: str) -> Any:
    """A router after ``a`` (``b`` below 10, ``c`` from 10, both from 100), static edges
    ``b -> d``, ``c -> END``, ``d -> END``, and a custom reducer (``high``): what an edit's
    ``as_node`` decides (update_state)."""
    g = StateGraph(Routed)
    g.add_node("a", lambda s: {"log": ["a"], "n": s.get("n", 0) + 1, "high": 5})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_node("d", lambda s: {"log": ["d"]})
    g.add_edge(START, "a")
    g.add_conditional_edges("a", _route_after_a, ["b", "c"])
    g.add_edge("b", "d")
    g.add_edge("c", END)
    g.add_edge("d", END)
    return g.compile(name=name)


def _ask_in_parallel(name: str = "ask_in_parallel") -> Any:
    """``a``, then ``b`` and ``c`` in one step (``c`` asks a human), joined into ``d``: a run paused in the middle of a step (update_state there)."""

    def c(s: Steps) -> Steps:
        return {"log": [f"c:{interrupt('ok?')}"]}

    g = StateGraph(Steps)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", c)
    g.add_node("d", lambda s: {"log": ["d"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge(["b", "c"], "d")
    g.add_edge("d", END)
    return g.compile(name=name)


def _ask_in_parallel_highest() -> Any:
    """``a``, then ``b`` (writes the custom-reducer key ``high``) and ``c`` (asks a human) in one
    step: a run paused in the middle of a step with a custom reducer's write pending."""

    def c(s: Highest) -> Highest:
        interrupt("ok?")
        return {"n": 2}

    g = StateGraph(Highest)
    g.add_node("a", lambda s: {"n": 1})
    g.add_node("b", lambda s: {"high": 5})
    g.add_node("c", c)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", END)
    g.add_edge("c", END)
    return g.compile(name="ask_in_parallel_highest")


slow = _slow()
asking = _asking()
breakpoint = _breakpoint()
custom = _custom()
reducing = _reducing()
nested = _nested()
lifecycle = _lifecycle()
chat_no_tools = _chat_no_tools()
routed = _routed("routed")
ask_in_parallel = _ask_in_parallel()
ask_in_parallel_highest = _ask_in_parallel_highest()
#: Not served by the API test server: only by a worker process a test starts.
ask_in_parallel_remote = _ask_in_parallel("ask_in_parallel_remote")
#: Not served by the API test server: only by a worker process a test starts.
routed_remote = _routed("routed_remote")

GRAPHS = [
    f"tests.api_graphs:{name}"
    for name in (
        "slow",
        "asking",
        "breakpoint",
        "custom",
        "nested",
        "lifecycle",
        "chat_no_tools",
        "reducing",
        "routed",
        "ask_in_parallel",
        "ask_in_parallel_highest",
    )
]
DEMOS = [
    "duragraph_lab.demo.chat:graph",
    "duragraph_lab.demo.approval:graph",
    "duragraph_lab.demo.map_reduce:graph",
]
