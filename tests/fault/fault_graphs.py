"""Graphs the fault tests serve from real worker processes. Every node records its execution in
a side_effects table (keyed by its idempotency key), so tests can count how often each ran."""

from __future__ import annotations

import operator
import os
import time
from typing import Annotated, Any, TypedDict

import psycopg

from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START


class Chain(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    hang: bool  # runs that want the fault to strike set this


def _record(node: str) -> int:
    """Insert this execution; return how many executions of ``node`` exist now."""
    ctx = get_context()
    with psycopg.connect(os.environ["DURAGRAPH_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO side_effects (key, node, run_id, pid) VALUES (%s, %s, %s, %s)",
            (ctx.idempotency_key, node, ctx.run_id, os.getpid()),
        )
        row = conn.execute(
            "SELECT count(*) FROM side_effects WHERE run_id = %s AND node = %s", (ctx.run_id, node)
        ).fetchone()
    return int(row[0]) if row else 0


def _chain(name: str, length: int, slow_node: str, slow_seconds: float) -> CompiledGraph:
    g = StateGraph(Chain)
    prev = START
    for i in range(length):
        node = f"n{i}"

        def run(s: Chain, node: str = node) -> Chain:
            executions = _record(node)
            if s.get("hang") and node == slow_node and executions == 1:
                time.sleep(slow_seconds)  # the first execution is where the fault strikes
            return {"n": s.get("n", 0) + 1, "log": [node]}

        g.add_node(node, run)
        g.add_edge(prev, node)
        prev = node
    g.add_edge(prev, END)
    return g.compile(name=name)


ten: Any = _chain("ten", 10, slow_node="n4", slow_seconds=60)
stoppable: Any = _chain("stoppable", 4, slow_node="n2", slow_seconds=4)
