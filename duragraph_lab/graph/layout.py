"""A layered (Sugiyama-style) layout computed once at compile time, so every UI draws the graph
the same way: layers by longest path from START (back edges of loops ignored), order within a
layer by the barycenter of neighbours, a few sweeps down and up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from duragraph_lab.graph.types import END, START

if TYPE_CHECKING:
    import networkx as nx

X_GAP = 160
Y_GAP = 84


def _back_edges(g: nx.DiGraph[str]) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first walk from START (the "return" edges of loops)."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(root: str) -> None:
        stack = [(root, iter(sorted(g.successors(root))))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(g.successors(child)))))
                    break
            else:
                state[node] = 2
                stack.pop()

    if START in g:
        visit(START)
    for node in sorted(g.nodes):
        if node not in state:
            visit(node)
    return back


def drawn_graph(node_ids: list[str], edges: list[dict[str, Any]]) -> nx.DiGraph[str]:
    """The graph to lay out from a topology's nodes and edges. A router that may go anywhere
    (``inferred`` edges) is drawn as one edge, so its edges do not pull every node below it;
    they only place the nodes nothing else leads to."""
    import networkx as nx

    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(node_ids)
    g.add_edges_from((e["source"], e["target"]) for e in edges if not e.get("inferred"))
    led_to = {e["target"] for e in edges if not e.get("inferred") and e["source"] != e["target"]}
    g.add_edges_from(
        (e["source"], e["target"])
        for e in edges
        if e.get("inferred") and e["target"] not in led_to and e["source"] != e["target"]
    )
    return g


def layered_layout(g: nx.DiGraph[str]) -> dict[str, Any]:
    import networkx as nx  # imported when compiling, not whenever the graph package is imported

    back = _back_edges(g)
    dag: nx.DiGraph[str] = nx.DiGraph()
    dag.add_nodes_from(g.nodes)
    dag.add_edges_from(e for e in g.edges if e not in back and e[0] != e[1])
    layer: dict[str, int] = {}
    for node in nx.topological_sort(dag):
        preds = [layer[p] + 1 for p in dag.predecessors(node)]
        layer[node] = max(preds, default=0)
    if END in layer:  # END alone on the bottom row
        layer[END] = max((v for k, v in layer.items() if k != END), default=-1) + 1
    layers: dict[int, list[str]] = {}
    for node, index in sorted(layer.items(), key=lambda kv: (kv[1], kv[0])):
        layers.setdefault(index, []).append(node)
    order = {node: i for nodes in layers.values() for i, node in enumerate(nodes)}
    depth = max(layers, default=0)
    for sweep in range(4):
        downward = sweep % 2 == 0
        rows = range(1, depth + 1) if downward else range(depth - 1, -1, -1)
        for row in rows:

            def barycenter(node: str, downward: bool = downward) -> float:
                near = list(dag.predecessors(node)) if downward else list(dag.successors(node))
                return sum(order[n] for n in near) / len(near) if near else order[node]

            layers[row].sort(key=lambda n: (barycenter(n), n))
            order.update({n: i for i, n in enumerate(layers[row])})
    width = max((len(nodes) for nodes in layers.values()), default=1)
    positions = {}
    for row, nodes in layers.items():
        offset = (width - len(nodes)) * X_GAP / 2
        for i, node in enumerate(nodes):
            positions[node] = {"x": round(offset + i * X_GAP), "y": row * Y_GAP, "layer": row, "order": i}
    return {
        "nodes": positions,
        "back_edges": sorted([list(e) for e in back]),
        "width": width * X_GAP,
        "height": (depth + 1) * Y_GAP,
    }
