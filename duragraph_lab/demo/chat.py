"""A tool-calling chat agent: the model answers, or calls the calculator / clock and answers
with their results.

``graph.invoke({"messages": [("user", "what is 2 + 3")]})`` runs agent -> tools -> agent -> END.
"""

from __future__ import annotations

from typing import Any

from duragraph_lab.demo.tools import TOOLS
from duragraph_lab.graph.state_graph import MessagesState, StateGraph
from duragraph_lab.graph.types import END, START, RetryPolicy
from duragraph_lab.llm import get_chat_model, run_tool_calls

SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the calculator tool for arithmetic and the clock tool for the "
    "current date or time; answer briefly."
)


async def agent(state: MessagesState) -> dict[str, Any]:
    # The model is chosen per call, so configuring DURAGRAPH_LLM_* takes effect without a restart.
    reply = await get_chat_model().ainvoke(
        [{"type": "system", "content": SYSTEM_PROMPT}, *state["messages"]], tools=TOOLS
    )
    return {"messages": [reply]}


async def tools(state: MessagesState) -> dict[str, Any]:
    return {"messages": await run_tool_calls(state["messages"][-1], TOOLS)}


def route(state: MessagesState) -> str:
    """To the tools while the model asks for them, else done."""
    last = state["messages"][-1] if state["messages"] else {}
    return "tools" if isinstance(last, dict) and last.get("tool_calls") else END


builder = StateGraph(MessagesState)
# Model endpoints fail transiently (429, 5xx, timeouts): the default retry_on retries exactly those.
builder.add_node("agent", agent, retry=RetryPolicy(max_attempts=4, initial_interval=1.0))
builder.add_node("tools", tools)
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", route, ["tools", END])
builder.add_edge("tools", "agent")
graph = builder.compile(name="chat")
