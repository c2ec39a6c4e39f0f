"""Graphs the fault tests serve from real worker processes. Every node records its execution in
a side_effects table (the ledger: its idempotency key, pid, when the engine started the attempt
and when the node wrote the row), so tests can count how often each node ran and when."""

from __future__ import annotations

import operator
import os
import random
import time
import uuid
from typing import Annotated, Any, TypedDict

import psycopg

from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START

LEDGER = """
CREATE TABLE side_effects (
    exec_id uuid PRIMARY KEY,
    key     text NOT NULL,
    node    text NOT NULL,
    run_id  text NOT NULL,
    pid     int NOT NULL,
    attempt int NOT NULL,
    started timestamptz NOT NULL,                        -- when the engine started the attempt
    at      timestamptz NOT NULL DEFAULT clock_timestamp()  -- when the node wrote this row
);
CREATE TABLE gates (run_id text PRIMARY KEY);
"""

# The ledger outlives database outages (the chaos test restarts PostgreSQL under running nodes):
# a node keeps trying to write its row for this long.
_LEDGER_PATIENCE = 120.0


class Chain(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    hang: bool  # runs that want the fault to strike set this
    gate: bool  # the first node waits until the test opens the run's gate
    sleep: float  # each node sleeps up to this long (random)


def _connect() -> psycopg.Connection[Any]:
    # Its own application_name: the tests cancel and kill the worker's statements, not these.
    return psycopg.connect(
        os.environ["DURAGRAPH_DATABASE_URL"], autocommit=True, application_name="ledger", connect_timeout=5
    )


def _record(node: str) -> int:
    """Insert this execution; return how many executions of ``node`` exist now for the run."""
    ctx = get_context()
    exec_id = uuid.uuid4()  # the insert is idempotent: a retry after a lost answer adds no row
    give_up = time.monotonic() + _LEDGER_PATIENCE
    while True:
        try:
            with _connect() as conn:
                conn.execute(
                    "INSERT INTO side_effects (exec_id, key, node, run_id, pid, attempt, started) "
                    "VALUES (%s, %s, %s, %s, %s, %s, to_timestamp(%s)) ON CONFLICT (exec_id) DO NOTHING",
                    (
                        exec_id,
                        ctx.idempotency_key,
                        node,
                        ctx.run_id,
                        os.getpid(),
                        ctx.attempt,
                        ctx.started_at,
                    ),
                )
                row = conn.execute(
                    "SELECT count(*) FROM side_effects WHERE run_id = %s AND node = %s", (ctx.run_id, node)
                ).fetchone()
            return int(row[0]) if row else 0
        except psycopg.OperationalError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.2)


def _wait_for_gate(run_id: str) -> None:
    give_up = time.monotonic() + 60
    with _connect() as conn:
        while not conn.execute("SELECT 1 FROM gates WHERE run_id = %s", (run_id,)).fetchone():
            if time.monotonic() > give_up:
                raise TimeoutError(f"the gate of run {run_id} never opened")
            time.sleep(0.01)


def _chain(name: str, length: int, slow_node: str, slow_seconds: float) -> CompiledGraph:
    g = StateGraph(Chain)
    prev = START
    for i in range(length):
        node = f"n{i}"

        def run(s: Chain, node: str = node) -> Chain:
            executions = _record(node)
            if s.get("hang") and node == slow_node and executions == 1:
                time.sleep(slow_seconds)  # the first execution is where the fault strikes
            if s.get("sleep"):
                time.sleep(random.uniform(0, s["sleep"]))
            return {"n": s.get("n", 0) + 1, "log": [node]}

        g.add_node(node, run)
        g.add_edge(prev, node)
        prev = node
    g.add_edge(prev, END)
    return g.compile(name=name)


def _gated() -> CompiledGraph:
    """a -> b -> c; with ``gate``, a returns only once the test opened the run's gate (so the
    test can arrange what a's commit will meet before it is sent)."""
    g = StateGraph(Chain)
    prev = START
    for node in ("a", "b", "c"):

        def run(s: Chain, node: str = node) -> Chain:
            _record(node)
            if node == "a" and s.get("gate"):
                _wait_for_gate(get_context().run_id)
            return {"n": s.get("n", 0) + 1, "log": [node]}

        g.add_node(node, run)
        g.add_edge(prev, node)
        prev = node
    g.add_edge(prev, END)
    return g.compile(name="gated")


ten: Any = _chain("ten", 10, slow_node="n4", slow_seconds=60)
stoppable: Any = _chain("stoppable", 4, slow_node="n2", slow_seconds=4)
six: Any = _chain("six", 6, slow_node="", slow_seconds=0)
gated: Any = _gated()
