"""LangGraph graphs for issue 17's benchmark: the same graph run by DuraGraph Lab's LangGraph engine
(served by ``duragraph-lab worker``, compiled here without a checkpointer: the engine brings its
own) and by LangGraph + ``AsyncPostgresSaver`` (:mod:`benchmarks.contenders`, which compiles the
same builders with its saver). Imported only when ``langgraph`` is installed."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, MessagesState, StateGraph

from benchmarks.chat_text import message


class Counter(TypedDict, total=False):
    n: int


def linear(steps: int) -> StateGraph[Any]:
    """``steps`` nodes in a row, each adding one: the engine's overhead with trivial node code."""
    g: StateGraph[Any] = StateGraph(Counter)
    prev = START
    for i in range(steps):

        async def step(state: Counter) -> Counter:
            return {"n": state.get("n", 0) + 1}

        g.add_node(f"s{i}", step)
        g.add_edge(prev, f"s{i}")
        prev = f"s{i}"
    g.add_edge(prev, END)
    return g


class Chat(MessagesState, total=False):
    limit: int


async def _say(state: Chat) -> dict[str, Any]:
    i = len(state["messages"])
    role = "user" if i % 2 == 0 else "ai"
    return {"messages": [{"role": role, "content": message(i), "id": f"m{i}"}]}


def _more(state: Chat) -> str:
    return "say" if len(state["messages"]) < state.get("limit", 1) else END


def chat() -> StateGraph[Any]:
    """Each step appends one message: a conversation's storage growth."""
    g: StateGraph[Any] = StateGraph(Chat)
    g.add_node("say", _say)
    g.add_edge(START, "say")
    g.add_conditional_edges("say", _more, ["say", END])
    return g


# What the worker serves (graph id = the compiled graph's name).
lg_linear100 = linear(100).compile(name="lg_linear100")
lg_linear20 = linear(20).compile(name="lg_linear20")
lg_linear1 = linear(1).compile(name="lg_linear1")
lg_chatloop = chat().compile(name="lg_chatloop")
GRAPHS = ["lg_linear100", "lg_linear20", "lg_chatloop"]
