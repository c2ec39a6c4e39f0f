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


# -- a deep agent whose subagent is in flight when its worker dies ----------------------------
from deepagents import create_deep_agent  # noqa: E402
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


@tool
def note(text: str, config: RunnableConfig) -> str:
    """Write ``text`` down (the ledger counts each call)."""
    _record(config, "note")
    return "noted"


@tool
def lookup(query: str, config: RunnableConfig) -> str:
    """Look ``query`` up; slow the first time (the test kills the worker meanwhile)."""
    if _record(config, "lookup") == 1:
        time.sleep(60.0)
    return "42"


class DeepScript(BaseChatModel):
    """The main agent notes the question, hands it to its general-purpose subagent (the ``task``
    tool: a graph run inside the tool), then answers; the subagent (its conversation starts with
    "SUB:") looks it up, then answers."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> DeepScript:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        first = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        done = [m.name for m in messages if isinstance(m, ToolMessage)]
        run_id = (getattr(run_manager, "metadata", None) or {}).get("run_id")
        if run_id is not None:  # the ledger counts model calls too, by who made them and when
            who = "sub" if first.startswith("SUB:") else "main"
            _record({"configurable": {"run_id": run_id}}, f"model:{who}:{len(done)}")
        if first.startswith("SUB:"):
            call = None if "lookup" in done else ("lookup", {"query": first})
            answer = "subagent: 42"
        elif "note" not in done:
            call, answer = ("note", {"text": first}), ""
        elif "task" not in done:
            call, answer = ("task", {"description": f"SUB: {first}", "subagent_type": "general-purpose"}), ""
        else:
            call, answer = None, "the answer is 42"
        reply = (
            AIMessage(content="", tool_calls=[{"name": call[0], "args": call[1], "id": f"c{len(messages)}"}])
            if call is not None
            else AIMessage(content=answer)
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "deep-script"


deep = create_deep_agent(model=DeepScript(), tools=[note, lookup], name="lg_deep")
