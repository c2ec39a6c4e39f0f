"""Where a native router may go, as the topology says (issue 19): from its return annotation,
its path map, a node's ``Command[Literal[...]]``, or nowhere said ("anywhere", never a
self-loop in the drawing); the LangGraph topology says the same in the same shape."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import pytest

from duragraph_lab.graph import END, START, Command, StateGraph
from duragraph_lab.graph.state_graph import GraphValidationError


class S(TypedDict):
    x: int


def _node(state: S) -> dict[str, Any]:
    return {}


def _literal(state: S) -> Literal["review", "act"]:
    return "act"


def _literal_or_none(state: S) -> Literal["review", "act"] | None:
    return None


def _literal_with_end(state: S) -> Literal["review", "__end__"]:
    return END


def _plain(state: S) -> str:
    return "act"


def _unannotated(state):  # type: ignore[no-untyped-def]
    return "act"


class _CallableRouter:
    def __call__(self, state: S) -> Literal["act"]:
        return "act"


def _branching(
    router: Any, path_map: Any = None, leaves: tuple[str, ...] = ("review", "act")
) -> dict[str, Any]:
    g = StateGraph(S)
    for name in ("classify", *leaves):
        g.add_node(name, _node)
    g.add_edge(START, "classify")
    g.add_conditional_edges("classify", router, path_map)
    for name in leaves:
        g.add_edge(name, END)
    return g.compile("guard").spec.to_json()


def _branches(topology: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return sorted(
        (e["label"], e["target"], e["inferred"]) for e in topology["edges"] if e["kind"] == "conditional"
    )


@pytest.mark.parametrize(
    ("router", "leaves", "expected"),
    [
        (_literal, ("review", "act"), [("act", "act", False), ("review", "review", False)]),
        (_literal_or_none, ("review", "act"), [("act", "act", False), ("review", "review", False)]),
        (_literal_with_end, ("review",), [("__end__", "__end__", False), ("review", "review", False)]),
        (_CallableRouter(), ("act",), [("act", "act", False)]),
    ],
    ids=["literal", "literal-or-none", "literal-with-end", "callable-object"],
)
def test_a_literal_return_annotation_gives_the_router_targets(
    router: Any, leaves: tuple[str, ...], expected: Any
) -> None:
    topology = _branching(router, leaves=leaves)
    assert _branches(topology) == expected
    # No self-loop, and the branches sit side by side below classify, not in one column.
    assert not any(e["source"] == e["target"] for e in topology["edges"])
    pos = topology["layout"]["nodes"]
    targets = [t for _, t, _ in expected if t != END]
    assert all(pos[t]["layer"] == pos["classify"]["layer"] + 1 for t in targets)
    assert len({pos[t]["x"] for t in targets}) == len(targets)


def test_a_literal_that_leaves_a_node_out_makes_it_unreachable() -> None:
    with pytest.raises(GraphValidationError, match=r"\['review'\] cannot be reached"):
        _branching(_CallableRouter())


def test_a_list_path_map_gives_the_targets_labelled_by_name() -> None:
    assert _branches(_branching(_plain, ["review", "act"])) == [
        ("act", "act", False),
        ("review", "review", False),
    ]


def test_a_dict_path_map_gives_the_targets_labelled_by_key() -> None:
    topology = _branching(_unannotated, {True: "review", False: "act"})
    assert _branches(topology) == [("False", "act", False), ("True", "review", False)]


def test_a_path_map_wins_over_the_annotation() -> None:
    assert _branches(_branching(_literal, {"x": "act"}, leaves=("act",))) == [("x", "act", False)]


@pytest.mark.parametrize("router", [_plain, _unannotated], ids=["str", "unannotated"])
def test_a_router_that_declares_nothing_may_go_anywhere_and_is_marked_so(router: Any) -> None:
    topology = _branching(router)
    branches = _branches(topology)
    assert {t for _, t, _ in branches} == {"classify", "review", "act", END}
    assert all(inferred for _, _, inferred in branches)
    # Its edges to every node do not shape the layout: the graph is laid out as it is drawn.
    pos = topology["layout"]["nodes"]
    assert pos["review"]["layer"] == pos["act"]["layer"] == pos["classify"]["layer"] + 1


def test_a_literal_naming_an_unknown_node_is_rejected_at_compile() -> None:
    def route(state: S) -> Literal["review", "nowhere"]:
        return "review"

    with pytest.raises(GraphValidationError, match="nowhere"):
        _branching(route)


def test_a_literal_annotation_does_not_check_the_router_at_run_time() -> None:
    g = StateGraph(S)
    g.add_conditional_edges(START, _literal_with_end)
    g.add_node("review", _node)
    g.add_edge("review", END)
    spec = g.compile("g").spec
    assert spec.branches[0].path_map is None  # the engine routes by the router's result as before
    assert spec.branches[0].declared == ("review", END)


def test_command_literal_destinations_are_conditional_command_edges() -> None:
    def decide(state: S) -> Command[Literal["review", "act"]]:
        return Command(goto="act")

    g = StateGraph(S)
    g.add_node("classify", decide)
    g.add_node("review", _node)
    g.add_node("act", _node)
    g.add_edge(START, "classify")
    g.add_edge("review", END)
    g.add_edge("act", END)
    edges = g.compile("cmd").spec.to_json()["edges"]
    command = sorted((e["target"], e["conditional"]) for e in edges if e["kind"] == "command")
    assert command == [("act", True), ("review", True)]


def test_destinations_argument_declares_command_targets() -> None:
    def decide(state: S) -> Command[Any]:
        return Command(goto="act")

    g = StateGraph(S)
    g.add_node("classify", decide, destinations=["act"])
    g.add_node("act", _node)
    g.add_edge(START, "classify")
    g.add_edge("act", END)
    edges = g.compile("cmd").spec.to_json()["edges"]
    assert [(e["source"], e["target"]) for e in edges if e["kind"] == "command"] == [("classify", "act")]


langgraph = pytest.importorskip("langgraph.graph")


@pytest.mark.parametrize(
    ("router", "path_map"),
    [
        (_literal, None),
        (_plain, ["review", "act"]),
        (_unannotated, {True: "review", False: "act"}),
        (_unannotated, None),
    ],
    ids=["literal", "list", "dict", "anywhere"],
)
def test_langgraph_and_native_topologies_say_the_same(router: Any, path_map: Any) -> None:
    from duragraph_lab.langgraph.topology import describe

    g = langgraph.StateGraph(S)
    for name in ("classify", "review", "act"):
        g.add_node(name, _node)
    g.add_edge(langgraph.START, "classify")
    g.add_conditional_edges("classify", router, path_map)
    g.add_edge("review", langgraph.END)
    g.add_edge("act", langgraph.END)
    theirs = describe("guard", g.compile()).topology
    ours = _branching(router, path_map)

    def edges(t: dict[str, Any]) -> set[tuple[Any, ...]]:
        return {(e["source"], e["target"], e["conditional"], bool(e.get("inferred"))) for e in t["edges"]}

    assert edges(theirs) == edges(ours)
    assert theirs["layout"]["nodes"] == ours["layout"]["nodes"]
