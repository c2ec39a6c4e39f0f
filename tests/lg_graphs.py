"""Real LangGraph graphs (``langgraph.graph.StateGraph``) served by the tests' servers and workers
(``module:attr`` references): map-reduce with ``Send``, ``interrupt()`` resumed with
``Command(resume=...)``, and a slow fan-out whose tasks note each execution in a ledger file
(``DURAGRAPH_TEST_LEDGER``), so fault tests can prove which tasks ran how often."""

from __future__ import annotations

import asyncio
import itertools
import operator
import os
import time
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt
from typing_extensions import TypedDict


class MapReduce(TypedDict, total=False):
    topic: str
    items: Annotated[list[str], operator.add]
    answer: str


def plan(state: MapReduce) -> dict[str, Any]:
    return {"topic": state["topic"].strip()}


def fan_out(state: MapReduce) -> list[Send]:
    return [Send("work", {"topic": f"{state['topic']}-{i}"}) for i in range(3)]


def work(state: MapReduce) -> dict[str, Any]:
    return {"items": [state["topic"].upper()]}


def ask(state: MapReduce) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "items": sorted(state["items"])})
    return {"answer": str(answer)}


_builder = StateGraph(MapReduce)
_builder.add_node("plan", plan)
_builder.add_node("work", work)
_builder.add_node("ask", ask)
_builder.add_edge(START, "plan")
_builder.add_conditional_edges("plan", fan_out, ["work"])
_builder.add_edge("work", "ask")
_builder.add_edge("ask", END)
map_reduce = _builder.compile(name="lg_map_reduce")


class Ledgered(TypedDict, total=False):
    n: int
    done: Annotated[list[str], operator.add]


def _note(name: str) -> None:
    path = os.environ.get("DURAGRAPH_TEST_LEDGER")
    if path:
        with open(path, "a") as f:
            f.write(f"{os.getpid()} {name}\n")
            f.flush()
            os.fsync(f.fileno())


def slow_fan(state: Ledgered) -> list[Send]:
    return [Send("slow", {"n": i}) for i in range(state.get("n", 3))]


def slow(state: Ledgered) -> dict[str, Any]:
    # Task i finishes after i+1 half-seconds: the first ones commit while the last are in flight.
    i = state["n"]
    _note(f"start {i}")
    time.sleep(0.5 * (i + 1) * float(os.environ.get("DURAGRAPH_TEST_SLOW", "1")))
    _note(f"end {i}")
    return {"done": [f"task-{i}"]}


def after(state: Ledgered) -> dict[str, Any]:
    _note("after")
    return {"done": ["after"]}


_ledgered = StateGraph(Ledgered)
_ledgered.add_node("slow", slow)
_ledgered.add_node("after", after)
_ledgered.add_conditional_edges(START, slow_fan, ["slow"])
_ledgered.add_edge("slow", "after")
_ledgered.add_edge("after", END)
ledgered = _ledgered.compile(name="lg_ledgered")


class Nap(TypedDict, total=False):
    seconds: float
    done: bool


async def nap(state: Nap) -> dict[str, Any]:
    await asyncio.sleep(state.get("seconds", 30.0))
    return {"done": True}


_nap = StateGraph(Nap)
_nap.add_node("nap", nap)
_nap.add_edge(START, "nap")
_nap.add_edge("nap", END)
napping = _nap.compile(name="lg_nap")


# -- create_agent with a fake chat model and a tool ----------------------------------------------
from langchain.agents import create_agent  # noqa: E402
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


class ToolCallingFake(BaseChatModel):
    """Asks for ``add(1, 2)``, then answers with the tool's result."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"the sum is {last.content}")
        else:
            reply = AIMessage(
                content="", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1"}]
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


agent = create_agent(model=ToolCallingFake(), tools=[add], name="lg_agent")


# -- a node calling a chat model that streams its tokens, and a custom stream writer --------------
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langgraph.config import get_stream_writer  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402


class Chat(TypedDict):
    messages: Annotated[list[Any], add_messages]


_talker = GenericFakeChatModel(messages=itertools.cycle([AIMessage(content="the answer is 42")]))


async def talk(state: Chat) -> dict[str, Any]:
    get_stream_writer()({"progress": "thinking"})
    return {"messages": [await _talker.ainvoke(state["messages"])]}


_chat = StateGraph(Chat)
_chat.add_node("talk", talk)
_chat.add_edge(START, "talk")
chat = _chat.compile(name="lg_chat")


# -- a subgraph that asks inside (its state is the parent task's in get_state(subgraphs=True)) ----
class Inner(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]


def jot(state: Inner) -> dict[str, Any]:
    return {"notes": [f"jot {state['topic']}"]}


def confirm(state: Inner) -> dict[str, Any]:
    return {"notes": [f"confirmed {interrupt({'confirm': state['topic']})}"]}


_inner = StateGraph(Inner)
_inner.add_node("jot", jot)
_inner.add_node("confirm", confirm)
_inner.add_edge(START, "jot")
_inner.add_edge("jot", "confirm")


def prep(state: Inner) -> dict[str, Any]:
    return {"notes": ["prep"]}


_outer = StateGraph(Inner)
_outer.add_node("prep", prep)
_outer.add_node("inner", _inner.compile())
_outer.add_edge(START, "prep")
_outer.add_edge("prep", "inner")
nested = _outer.compile(name="lg_nested")


# -- a node LangGraph retries (RetryPolicy): it fails its first `fail` attempts for each topic ----
from langgraph.types import RetryPolicy  # noqa: E402

_attempts: dict[str, int] = {}


class Flaky(TypedDict, total=False):
    topic: str
    fail: int
    attempts: int


def flaky_node(state: Flaky) -> dict[str, Any]:
    n = _attempts[state["topic"]] = _attempts.get(state["topic"], 0) + 1
    if n <= state.get("fail", 2):
        raise ConnectionError(f"attempt {n} of {state['topic']} failed")
    return {"attempts": n}


_flaky = StateGraph(Flaky)
_flaky.add_node(
    "flaky", flaky_node, retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=False)
)
_flaky.add_edge(START, "flaky")
flaky = _flaky.compile(name="lg_flaky")

# The same node inside a subgraph: its attempts are recorded under the subgraph's namespace.
_flaky_outer = StateGraph(Flaky)
_flaky_outer.add_node("sub", _flaky.compile())
_flaky_outer.add_edge(START, "sub")
flaky_nested = _flaky_outer.compile(name="lg_flaky_nested")

# The chat node inside a subgraph: its tokens stream under the subgraph's namespace.
_chat_outer = StateGraph(Chat)
_chat_outer.add_node("talker", _chat.compile())
_chat_outer.add_edge(START, "talker")
chat_nested = _chat_outer.compile(name="lg_chat_nested")


# -- create_agent whose chat model reports token usage, as a provider's integration does ----------
class MeteredFake(ToolCallingFake):
    """``ToolCallingFake`` that reports what real integrations do: token usage
    (``usage_metadata``), the answering model and the finish reason (``response_metadata``)."""

    model: str = "metered-1"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        time.sleep(0.05)  # a call takes time of its own, so its span is not its node's
        [generation] = super()._generate(messages, stop, run_manager, **kw).generations
        reply = generation.message
        assert isinstance(reply, AIMessage)
        calls = len(reply.tool_calls)
        reply.usage_metadata = {
            "input_tokens": 10 * len(messages),
            "output_tokens": 7 if calls else 5,
            "total_tokens": 10 * len(messages) + (7 if calls else 5),
        }
        reply.response_metadata = {
            "model_name": "metered-1-2026",
            "finish_reason": "tool_calls" if calls else "stop",
        }
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "metered-fake"


metered_agent = create_agent(model=MeteredFake(), tools=[add], name="lg_metered_agent")


# -- an interrupt with a response schema, and a breakpoint (LangGraph's __interrupt__ shapes) ------
class Approval(TypedDict):
    ok: bool


class Asked(TypedDict, total=False):
    topic: str
    verdict: str


def draft(state: Asked) -> dict[str, Any]:
    return {"topic": state["topic"] + "!"}


def approve(state: Asked) -> dict[str, Any]:
    answer = interrupt({"approve": state["topic"]}, response_schema=Approval)
    return {"verdict": "yes" if answer["ok"] else "no"}


_asking = StateGraph(Asked)
_asking.add_node("draft", draft)
_asking.add_node("approve", approve)
_asking.add_edge(START, "draft")
_asking.add_edge("draft", "approve")
asking = _asking.compile(name="lg_asking")


# -- model calls of a task that is interrupted or raises after calling a model, and in a subgraph --
from langchain_core.messages import HumanMessage  # noqa: E402


class Calls(TypedDict, total=False):
    mode: str  # "interrupt", "fail" or anything else
    answer: str


_metered = MeteredFake()


def call_then(state: Calls) -> dict[str, Any]:
    reply = _metered.invoke([HumanMessage(content="add 1 and 2")])
    if state.get("mode") == "interrupt":
        interrupt("after the model")
    if state.get("mode") == "fail":
        raise RuntimeError("after the model")
    return {"answer": str(reply.tool_calls[0]["name"])}


_calls = StateGraph(Calls)
_calls.add_node("call_then", call_then)
_calls.add_edge(START, "call_then")
calling = _calls.compile(name="lg_calling")

# The same node inside a subgraph: its calls are the subgraph task's, not the parent task's.
_calls_outer = StateGraph(Calls)
_calls_outer.add_node("sub", _calls.compile())
_calls_outer.add_edge(START, "sub")
calling_nested = _calls_outer.compile(name="lg_calling_nested")


# -- a node under LangGraph's CachePolicy: a second run with the same input is served from cache ---
import uuid as _uuid  # noqa: E402

from langgraph.cache.memory import InMemoryCache  # noqa: E402
from langgraph.types import CachePolicy  # noqa: E402


class Cached(TypedDict, total=False):
    x: int
    y: int
    stamp: str


def costly(state: Cached) -> dict[str, Any]:
    # A new stamp per execution: a cached result keeps the stamp of the execution it came from.
    return {"y": state["x"] * 2, "stamp": _uuid.uuid4().hex}


_cached = StateGraph(Cached)
_cached.add_node("costly", costly, cache_policy=CachePolicy())
_cached.add_edge(START, "costly")
caching = _cached.compile(name="lg_caching", cache=InMemoryCache())

# The node inside a subgraph compiled with a cache of its own (LangGraph gives a subgraph its own
# cache, not its parent's): its task is served from the cache too.
_cached_outer = StateGraph(Cached)
_cached_outer.add_node("sub", _cached.compile(cache=InMemoryCache()))
_cached_outer.add_edge(START, "sub")
caching_nested = _cached_outer.compile(name="lg_caching_nested")


# -- two parallel tasks in one step: one finishes, the other asks a human (a pause mid-step) ----
class Forked(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    done: str
    answer: str


def fork(state: Forked) -> dict[str, Any]:
    return {"log": ["fork"]}


def finisher(state: Forked) -> dict[str, Any]:
    return {"log": ["finisher"], "done": "yes"}


def asker(state: Forked) -> dict[str, Any]:
    answer = interrupt("which?")
    return {"log": [f"asker:{answer}"], "answer": str(answer)}


def join(state: Forked) -> dict[str, Any]:
    return {"log": ["join"]}


_forked = StateGraph(Forked)
_forked.add_node("fork", fork)
_forked.add_node("finisher", finisher)
_forked.add_node("asker", asker)
_forked.add_node("join", join)
_forked.add_edge(START, "fork")
_forked.add_edge("fork", "finisher")
_forked.add_edge("fork", "asker")
_forked.add_edge(["finisher", "asker"], "join")
forked = _forked.compile(name="lg_forked")


# -- a deep agent (deepagents.create_deep_agent): files in its state, a subagent in a tool ------
from deepagents import create_deep_agent  # noqa: E402


class ScriptedDeepModel(BaseChatModel):
    """A deep agent's turn, scripted: write a file, hand a question to the general-purpose
    subagent (the ``task`` tool runs it as a graph of its own), read the file back, answer. The
    subagent (its conversation starts with the task's description, "SUB: ...") answers at once."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedDeepModel:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        asked = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        since = messages[max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage)) :]
        done = [m.name for m in since if isinstance(m, ToolMessage)]
        if asked and asked[0].startswith("SUB:"):
            reply = AIMessage(content="subagent: 7 * 6 = 42")
        elif not done:
            call = {
                "name": "write_file",
                "args": {"file_path": f"/turn{len(asked)}.md", "content": asked[-1]},
            }
            reply = AIMessage(content="", tool_calls=[{**call, "id": f"w{len(asked)}"}])
        elif "task" not in done:
            args = {"description": "SUB: multiply 7 by 6", "subagent_type": "general-purpose"}
            reply = AIMessage(content="", tool_calls=[{"name": "task", "args": args, "id": f"t{len(asked)}"}])
        elif "read_file" not in done:
            args = {"file_path": f"/turn{len(asked)}.md"}
            reply = AIMessage(
                content="", tool_calls=[{"name": "read_file", "args": args, "id": f"r{len(asked)}"}]
            )
        else:
            reply = AIMessage(content=f"the answer is 42 (turn {len(asked)})")
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "scripted-deep-agent"


deep_agent = create_deep_agent(model=ScriptedDeepModel(), name="lg_deep_agent")
# ... asking a human before it writes a file (LangChain's human-in-the-loop middleware).
deep_agent_hitl = create_deep_agent(
    model=ScriptedDeepModel(), interrupt_on={"write_file": True}, name="lg_deep_agent_hitl"
)
