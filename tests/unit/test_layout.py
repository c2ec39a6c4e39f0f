"""The layered layout computed at compile time: layers, back edges and positions."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import networkx as nx
import pytest

from duragraph_lab.graph.layout import X_GAP, Y_GAP, layered_layout
from duragraph_lab.graph.types import END, START


def digraph(edges: Iterable[tuple[str, str]], nodes: Iterable[str] = ()) -> nx.DiGraph[str]:
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from([START, *nodes, END])
    g.add_edges_from(edges)
    return g


def layers(layout: dict[str, Any]) -> dict[str, int]:
    return {node: pos["layer"] for node, pos in layout["nodes"].items()}


def back_edges(layout: dict[str, Any]) -> set[tuple[str, str]]:
    return {(s, t) for s, t in layout["back_edges"]}


def assert_layout_invariants(g: nx.DiGraph[str], layout: dict[str, Any]) -> None:
    """What every layout must satisfy, whatever the graph."""
    layer = layers(layout)
    back = back_edges(layout)
    assert set(layout["nodes"]) == set(g.nodes)
    assert layer[START] == 0
    bottom = max(layer.values())
    assert layer[END] == bottom
    assert [n for n, i in layer.items() if i == bottom] == [END]
    assert back <= set(g.edges)
    for source, target in g.edges:
        if (source, target) not in back and source != target:
            assert layer[source] < layer[target], f"{source}->{target} does not go down"
    # the graph without its back edges is acyclic
    forward = nx.DiGraph([e for e in g.edges if e not in back])
    assert nx.is_directed_acyclic_graph(forward)
    # positions: inside the canvas, one slot per node, orders 0..n-1 in each layer
    assert layout["width"] > 0
    assert layout["height"] == (bottom + 1) * Y_GAP
    slots = set()
    by_layer: dict[int, list[int]] = {}
    for node, pos in layout["nodes"].items():
        assert 0 <= pos["x"] < layout["width"], node
        assert 0 <= pos["y"] < layout["height"], node
        assert pos["y"] == pos["layer"] * Y_GAP
        slots.add((pos["x"], pos["y"]))
        by_layer.setdefault(pos["layer"], []).append(pos["order"])
    assert len(slots) == len(layout["nodes"])
    for orders in by_layer.values():
        assert sorted(orders) == list(range(len(orders)))


def test_a_chain_gets_one_layer_per_node() -> None:
    g = digraph([(START, "a"), ("a", "b"), ("b", END)])

    layout = layered_layout(g)

    assert layers(layout) == {START: 0, "a": 1, "b": 2, END: 3}
    assert layout["back_edges"] == []
    assert layout["width"] == X_GAP
    assert layout["height"] == 4 * Y_GAP
    assert {n: (p["x"], p["y"]) for n, p in layout["nodes"].items()} == {
        START: (0, 0),
        "a": (0, Y_GAP),
        "b": (0, 2 * Y_GAP),
        END: (0, 3 * Y_GAP),
    }


def test_layers_follow_the_longest_path_from_start() -> None:
    g = digraph([(START, "a"), (START, "c"), ("a", "b"), ("b", "c"), ("c", END)])

    assert layers(layered_layout(g)) == {START: 0, "a": 1, "b": 2, "c": 3, END: 4}


def test_end_sits_alone_on_the_bottom_layer_even_when_reached_early() -> None:
    g = digraph([(START, "a"), (START, END), ("a", "b"), ("b", "c"), ("c", END), ("a", END)])

    layout = layered_layout(g)

    assert layers(layout)[END] == 4
    assert_layout_invariants(g, layout)


def test_end_moves_below_a_node_that_does_not_reach_it() -> None:
    # "tail" has no edge to END but is the deepest node; END still goes below it.
    g = digraph([(START, "a"), ("a", END), ("a", "b"), ("b", "tail")])

    layout = layered_layout(g)

    assert layers(layout) == {START: 0, "a": 1, "b": 2, "tail": 3, END: 4}


def test_parallel_branches_share_a_layer_and_are_centred() -> None:
    g = digraph([(START, "a"), (START, "b"), (START, "c"), ("a", END), ("b", END), ("c", END)])

    layout = layered_layout(g)

    assert layers(layout) == {START: 0, "a": 1, "b": 1, "c": 1, END: 2}
    assert layout["width"] == 3 * X_GAP
    assert sorted(layout["nodes"][n]["x"] for n in ("a", "b", "c")) == [0, X_GAP, 2 * X_GAP]
    assert layout["nodes"][START]["x"] == X_GAP
    assert layout["nodes"][END]["x"] == X_GAP
    assert_layout_invariants(g, layout)


def test_a_loop_produces_a_back_edge_and_keeps_the_forward_order() -> None:
    g = digraph([(START, "a"), ("a", "b"), ("b", "a"), ("b", END)])

    layout = layered_layout(g)

    assert layout["back_edges"] == [["b", "a"]]
    assert layers(layout) == {START: 0, "a": 1, "b": 2, END: 3}
    assert_layout_invariants(g, layout)


def test_a_self_loop_is_a_back_edge() -> None:
    g = digraph([(START, "a"), ("a", "a"), ("a", END)])

    layout = layered_layout(g)

    assert layout["back_edges"] == [["a", "a"]]
    assert layers(layout) == {START: 0, "a": 1, END: 2}


def test_a_loop_back_to_the_first_node_from_deep_in_the_graph() -> None:
    # agent -> tools -> agent (the ReAct loop), with a longer detour through "review".
    g = digraph(
        [
            (START, "agent"),
            ("agent", "tools"),
            ("tools", "agent"),
            ("agent", "review"),
            ("review", "agent"),
            ("review", END),
        ]
    )

    layout = layered_layout(g)

    assert back_edges(layout) == {("tools", "agent"), ("review", "agent")}
    assert layers(layout)[START] == 0
    assert layers(layout)["agent"] == 1
    assert_layout_invariants(g, layout)


def test_the_layout_is_deterministic_whatever_the_insertion_order() -> None:
    edges = [(START, "a"), (START, "b"), ("a", "c"), ("b", "c"), ("c", "a"), ("c", END)]

    first = layered_layout(digraph(edges))
    second = layered_layout(digraph(list(reversed(edges)), nodes=["c", "b", "a"]))

    assert first == second


def test_crossings_are_reduced_by_ordering_children_under_their_parents() -> None:
    # Without reordering, x1/x2 (children of "b") would sit left of y1/y2 (children of "a")
    # or vice versa depending on names; the barycenter keeps each pair under its parent.
    g = digraph(
        [
            (START, "b"),
            (START, "a"),
            ("a", "y1"),
            ("a", "y2"),
            ("b", "x1"),
            ("b", "x2"),
            ("x1", END),
            ("x2", END),
            ("y1", END),
            ("y2", END),
        ]
    )

    layout = layered_layout(g)

    order = {n: p["order"] for n, p in layout["nodes"].items()}
    a_left = order["a"] < order["b"]
    assert (max(order["y1"], order["y2"]) < min(order["x1"], order["x2"])) is a_left
    assert_layout_invariants(g, layout)


def _random_graph(seed: int) -> nx.DiGraph[str]:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(rng.randint(1, 9))]
    g = digraph([], nodes=names)
    for name in names:
        g.add_edge(rng.choice([START, *names]), name)
        for _ in range(rng.randint(1, 3)):
            g.add_edge(name, rng.choice([*names, END]))
    if rng.random() < 0.5:
        g.add_edge(START, END)
    return g


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_satisfy_the_layout_invariants(seed: int) -> None:
    g = _random_graph(seed)

    assert_layout_invariants(g, layered_layout(g))


def test_an_empty_graph_with_only_start_and_end() -> None:
    layout = layered_layout(digraph([(START, END)]))

    assert layers(layout) == {START: 0, END: 1}
    assert layout["back_edges"] == []
    assert layout["width"] == X_GAP
    assert layout["height"] == 2 * Y_GAP
