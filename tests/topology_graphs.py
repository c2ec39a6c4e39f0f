"""Graphs the scale-out topology serves from its worker processes (tests/topology.py).

``waits``: four nodes that each record their execution in the side-effect ledger
(tests/fault/fault_graphs.py's ``side_effects`` table) and then wait ``think`` seconds (at random
up to it), as an agent waits on a model. Async nodes on one small connection pool per worker: a
worker runs hundreds of them at once, a connection per node call would cost PostgreSQL more than
the runs themselves.

``slow_model``: one node that waits ``model_seconds`` (a slow model call) and nothing else, for
the cost of runs in flight (benchmarks/topology.py).
"""

from __future__ import annotations

import asyncio
import operator
import os
import random
import uuid
from typing import Annotated, Any, TypedDict

from psycopg_pool import AsyncConnectionPool

from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START

NODES = ("n0", "n1", "n2", "n3")
_pool: AsyncConnectionPool[Any] | None = None


class Waits(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    think: float  # each node waits up to this long (a model call)


async def _ledger() -> AsyncConnectionPool[Any]:
    global _pool
    if _pool is None:
        _pool = AsyncConnectionPool(
            os.environ["DURAGRAPH_DATABASE_URL"],
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True, "application_name": "ledger"},
            open=False,
        )
        await _pool.open()
    return _pool


async def _record(node: str) -> None:
    ctx = get_context()
    exec_id = uuid.uuid4()  # idempotent insert: a retry after a lost answer adds no row
    for attempt in range(600):  # the ledger outlives a database hiccup (at most ~2 min)
        try:
            async with (await _ledger()).connection() as conn:
                await conn.execute(
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
            return
        except Exception:
            if attempt == 599:
                raise
            await asyncio.sleep(0.2)


def _waits() -> CompiledGraph:
    g = StateGraph(Waits)
    prev = START
    for node in NODES:

        async def run(s: Waits, node: str = node) -> Waits:
            await _record(node)
            await asyncio.sleep(random.uniform(0, s.get("think", 0.0)))
            return {"n": s.get("n", 0) + 1, "log": [node]}

        g.add_node(node, run)
        g.add_edge(prev, node)
        prev = node
    g.add_edge(prev, END)
    return g.compile(name="waits")


class SlowModel(TypedDict, total=False):
    model_seconds: float
    answer: str


async def _call_model(s: SlowModel) -> SlowModel:
    await asyncio.sleep(s.get("model_seconds", 1.0))
    return {"answer": "done"}


def _slow_model() -> CompiledGraph:
    g = StateGraph(SlowModel)
    g.add_node("model", _call_model)
    g.add_edge(START, "model")
    g.add_edge("model", END)
    return g.compile(name="slow_model")


waits: Any = _waits()
slow_model: Any = _slow_model()
