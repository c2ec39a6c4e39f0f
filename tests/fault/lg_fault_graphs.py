"""A real LangGraph graph (``langgraph.graph.StateGraph``) for the fault tests, served by real
worker processes. Its tasks write the fault tests' ledger (``side_effects``, see fault_graphs.py)
when they start, so a test can count how often each task ran."""

from __future__ import annotations

import operator
import os
import time
import uuid
from typing import Annotated, Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from typing_extensions import TypedDict


class FanState(TypedDict, total=False):
    width: int
    hang: float  # seconds the last task sleeps the first time it runs (0: none)
    done: Annotated[list[str], operator.add]


class Part(TypedDict):
    i: int
    hang: float


def _record(config: RunnableConfig, node: str) -> int:
    """Note this execution in the ledger; how many executions of ``node`` the run has now."""
    run_id = str(config["configurable"]["run_id"])
    with psycopg.connect(
        os.environ["DURAGRAPH_DATABASE_URL"], autocommit=True, application_name="ledger"
    ) as conn:
        conn.execute(
            "INSERT INTO side_effects (exec_id, key, node, run_id, pid, attempt, started) "
            "VALUES (%s, %s, %s, %s, %s, 1, clock_timestamp())",
            (uuid.uuid4(), f"{run_id}:{node}", node, run_id, os.getpid()),
        )
        row = conn.execute(
            "SELECT count(*) FROM side_effects WHERE run_id = %s AND node = %s", (run_id, node)
        ).fetchone()
    return int(row[0]) if row else 0


def fan_out(state: FanState) -> list[Send]:
    return [
        Send("part", {"i": i, "hang": float(state.get("hang") or 0)}) for i in range(state.get("width", 3))
    ]


def part(state: Part, config: RunnableConfig) -> dict[str, Any]:
    node = f"part-{state['i']}"
    executions = _record(config, node)
    # The last task of the superstep is slow the first time: the others commit while it runs.
    if state["hang"] and state["i"] == 2 and executions == 1:
        time.sleep(state["hang"])
    return {"done": [node]}


def gather(state: FanState, config: RunnableConfig) -> dict[str, Any]:
    _record(config, "gather")
    return {"done": ["gather"]}


_builder = StateGraph(FanState)
_builder.add_node("part", part)
_builder.add_node("gather", gather)
_builder.add_conditional_edges(START, fan_out, ["part"])
_builder.add_edge("part", "gather")
_builder.add_edge("gather", END)
fan = _builder.compile(name="lg_fan")
