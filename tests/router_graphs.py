"""Graphs whose routers say where they go in each of the ways LangGraph reads (issue 19): a
``Literal`` return annotation (also ``| None``), a list or dict path map, ``Command[Literal]``
on a node, and a router that says nothing (it may go anywhere). Served by the API and browser
tests of the graph pictures."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from duragraph_lab.graph import END, START, Command, StateGraph


class State(TypedDict):
    text: str


def _node(state: State) -> dict[str, Any]:
    return {}


def route(state: State) -> Literal["review", "act"]:
    return "review" if "?" in state.get("text", "") else "act"


def route_or_none(state: State) -> Literal["review", "act"] | None:
    return route(state)


def route_plain(state: State) -> str:
    return route(state)


def route_bool(state: State) -> bool:
    return "?" in state.get("text", "")


def decide(state: State) -> Command[Literal["review", "act"]]:
    return Command(goto=route(state))


def _guard(name: str, router: Any = None, path_map: Any = None, *, command: bool = False) -> Any:
    g = StateGraph(State)
    g.add_node("classify", decide if command else _node)
    g.add_node("review", _node)
    g.add_node("act", _node)
    g.add_edge(START, "classify")
    if router is not None:
        g.add_conditional_edges("classify", router, path_map)
    g.add_edge("review", "act")  # review, then act: an edge classify -> act must not cross review
    g.add_edge("act", END)
    return g.compile(name)


literal_guard = _guard("literal_guard", route)
optional_guard = _guard("optional_guard", route_or_none)
list_guard = _guard("list_guard", route_plain, ["review", "act"])
dict_guard = _guard("dict_guard", route_bool, {True: "review", False: "act"})
command_guard = _guard("command_guard", command=True)
anywhere_guard = _guard("anywhere_guard", route_plain)

NAMES = ("literal_guard", "optional_guard", "list_guard", "dict_guard", "command_guard", "anywhere_guard")
REFS = tuple(f"tests.router_graphs:{name}" for name in NAMES)
