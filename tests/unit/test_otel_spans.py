"""A run's trace from its recorded events (duragraph_lab.otel): runs executed by the real engine
in-process, their logs mapped to spans, and the spans handed to the OpenTelemetry SDK."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from duragraph_lab import END, START, Command, StateGraph, interrupt
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.engine.local import GraphRunError, LocalRuntime
from duragraph_lab.graph.types import RetryPolicy
from duragraph_lab.otel.export import TraceExporter, span_id, trace_id
from duragraph_lab.otel.spans import RunTrace, SpanRecord, run_trace


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def events_of(runtime: LocalRuntime) -> dict[str, list[RecordedEvent]]:
    return {stream.removeprefix("run:"): list(events) for stream, events in runtime.journal.streams.items()}


def only_trace(runtime: LocalRuntime) -> RunTrace:
    [(run_id, events)] = events_of(runtime).items()
    return run_trace(run_id, events)


def by_name(trace: RunTrace, name: str) -> list[SpanRecord]:
    return [s for s in trace.spans if s.name == name]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY", "DURAGRAPH_LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")


async def test_the_chat_demo_has_a_node_span_per_task_with_genai_children(offline: None) -> None:
    from duragraph_lab.demo.chat import graph

    runtime = LocalRuntime()
    await runtime.invoke(graph, {"messages": [("user", "what is 2 + 3")]}, None)
    trace = only_trace(runtime)
    root = trace.root
    assert trace.ended
    assert root.name == "run chat" and root.parent is None and root.status == "ok"
    assert root.attributes["duragraph.status"] == "success"
    assert [e.name for e in root.events] == ["run_started"]
    agents, tools = by_name(trace, "node agent"), by_name(trace, "node tools")
    assert len(agents) == 2 and len(tools) == 1
    assert all(s.parent == "run" and s.status == "ok" for s in agents + tools)
    chats = [s for s in trace.spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert [c.parent for c in chats] == [a.key for a in agents]
    first = chats[0]
    assert first.name == "chat scripted" and first.kind == "client"
    assert first.attributes["gen_ai.request.model"] == "scripted"
    assert first.attributes["gen_ai.provider.name"]
    assert first.attributes["duragraph.request.tools"] == ["calculator", "clock"]
    # The scripted model reports what a real one would: usage and a finish reason.
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert isinstance(first.attributes["gen_ai.usage.input_tokens"], int)
    assert isinstance(first.attributes["gen_ai.usage.output_tokens"], int)
    assert first.attributes["gen_ai.system"] == first.attributes["gen_ai.provider.name"]
    # Tokens per node and per run, summed from the calls.
    for agent, call in zip(agents, chats, strict=True):
        for kind in ("input_tokens", "output_tokens"):
            assert agent.attributes[f"duragraph.usage.{kind}"] == call.attributes[f"gen_ai.usage.{kind}"]
    for kind in ("input_tokens", "output_tokens"):
        assert root.attributes[f"duragraph.usage.{kind}"] == sum(
            int(c.attributes[f"gen_ai.usage.{kind}"]) for c in chats
        )
    assert "duragraph.usage.input_tokens" not in tools[0].attributes
    [tool] = [s for s in trace.spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert tool.name == "execute_tool calculator" and tool.parent == tools[0].key
    assert tool.attributes["gen_ai.tool.call.id"]
    # Spans sit inside their parents, and the run contains every span.
    spans = {s.key: s for s in trace.spans}
    for s in trace.spans[1:]:
        parent = spans[s.parent or ""]
        assert parent.start <= s.start <= s.end <= parent.end, s.key


async def test_retries_are_sibling_attempts_and_the_failed_one_says_it_will_retry() -> None:
    calls = {"n": 0}

    def flaky(state: S) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError(f"try {calls['n']}")
        return {"log": ["ok"]}

    g = StateGraph(S)
    g.add_node("flaky", flaky, retry=RetryPolicy(max_attempts=3, initial_interval=0.0, jitter=False))
    g.add_edge(START, "flaky")
    g.add_edge("flaky", END)
    runtime = LocalRuntime()
    await runtime.invoke(g.compile(name="retrying"), {"log": []}, None)
    trace = only_trace(runtime)
    attempts = by_name(trace, "node flaky")
    assert [s.attributes["duragraph.attempt"] for s in attempts] == [1, 2, 3]
    assert len({s.attributes["duragraph.task"] for s in attempts}) == 1
    assert [s.status for s in attempts] == ["error", "error", "ok"]
    assert attempts[0].status_message == "ConnectionError: try 1"
    assert [e.name for e in attempts[0].events] == ["exception", "retry"]
    assert attempts[0].events[0].attributes["exception.type"] == "ConnectionError"
    assert attempts[0].events[1].attributes["next_attempt"] == 2
    assert trace.root.status == "ok"


async def test_a_final_failure_fails_the_run_span() -> None:
    def broken(state: S) -> dict[str, Any]:
        raise ValueError("no")

    g = StateGraph(S)
    g.add_node("broken", broken)
    g.add_edge(START, "broken")
    g.add_edge("broken", END)
    runtime = LocalRuntime()
    with pytest.raises(GraphRunError):
        await runtime.invoke(g.compile(name="failing"), {"log": []}, None)
    trace = only_trace(runtime)
    [attempt] = by_name(trace, "node broken")
    assert attempt.status == "error" and [e.name for e in attempt.events] == ["exception"]
    assert trace.root.status == "error" and trace.root.status_message == "ValueError: no"
    assert trace.root.attributes["duragraph.status"] == "error"


async def test_interrupts_and_resumes_are_events_of_the_run_span() -> None:
    def ask(state: S) -> dict[str, Any]:
        return {"log": [str(interrupt("approve?"))]}

    g = StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    graph = g.compile(name="asking")
    runtime = LocalRuntime()
    config = {"configurable": {"thread_id": "t1"}}
    await runtime.invoke(graph, {"log": []}, config)
    paused = only_trace(runtime)
    assert not paused.ended and paused.root.attributes["duragraph.status"] == "interrupted"
    [intr] = [e for e in paused.root.events if e.name == "interrupt"]
    assert intr.attributes["node"] == "ask" and intr.attributes["when"] == "during"
    await runtime.invoke(graph, Command(resume="yes"), config)
    done = only_trace(runtime)
    assert done.ended
    assert [e.name for e in done.root.events] == ["run_started", "interrupt", "run_resumed", "run_started"]
    # The interrupted execution of the node left no node event: one span, the one that finished.
    [ask_span] = by_name(done, "node ask")
    assert ask_span.status == "ok"


async def test_subgraph_nodes_are_children_of_the_node_attempt_that_ran_them() -> None:
    inner = StateGraph(S)
    inner.add_node("leaf", lambda s: {"log": ["leaf"]})
    inner.add_edge(START, "leaf")
    inner.add_edge("leaf", END)
    middle = StateGraph(S)
    middle.add_node("inner", inner.compile(name="inner"))
    middle.add_edge(START, "inner")
    middle.add_edge("inner", END)
    outer = StateGraph(S)
    outer.add_node("mid", middle.compile(name="middle"))
    outer.add_edge(START, "mid")
    outer.add_edge("mid", END)
    runtime = LocalRuntime()
    await runtime.invoke(outer.compile(name="outer"), {"log": []}, None)
    trace = only_trace(runtime)
    [mid] = by_name(trace, "node mid")
    [inner_span] = by_name(trace, "node inner")
    [leaf] = by_name(trace, "node leaf")
    assert mid.parent == "run"
    assert inner_span.parent == mid.key
    assert leaf.parent == inner_span.key
    assert leaf.attributes["duragraph.ns"] == "mid:0.0:1|inner:0.0:1|"
    # Subgraph lifecycle events do not end or mark the run.
    assert [e.name for e in trace.root.events] == ["run_started"]


async def test_the_trace_is_a_function_of_the_log_and_exports_with_stable_ids(offline: None) -> None:
    from duragraph_lab.demo.chat import graph

    runtime = LocalRuntime()
    await runtime.invoke(graph, {"messages": [("user", "what is 2 + 3")]}, None)
    [(run_id, events)] = events_of(runtime).items()
    assert run_trace(run_id, events) == run_trace(run_id, list(reversed(events)))
    memory = InMemorySpanExporter()
    exporter = TraceExporter([memory], Resource({"service.name": "test"}))
    assert exporter.export(run_trace(run_id, events)) == len(run_trace(run_id, events).spans)
    assert exporter.export(run_trace(run_id, events)) > 0
    spans = memory.get_finished_spans()
    half = len(spans) // 2
    first, again = spans[:half], spans[half:]
    assert [(s.context.trace_id, s.context.span_id) for s in first] == [
        (s.context.trace_id, s.context.span_id) for s in again
    ]
    assert {s.context.trace_id for s in spans} == {trace_id(run_id)}
    ids = {s.context.span_id for s in first}
    assert len(ids) == len(first)
    root = first[0]
    assert root.parent is None and root.context.span_id == span_id(run_id, "run")
    assert all(s.parent is not None and s.parent.span_id in ids for s in first[1:])
    assert all(
        s.start_time is not None and s.end_time is not None and s.start_time <= s.end_time for s in first
    )
    assert root.resource.attributes["service.name"] == "test"


def test_a_log_that_does_not_start_with_run_created_is_refused() -> None:
    with pytest.raises(ValueError, match="does not start with run_created"):
        run_trace("r", [])


def test_every_run_of_a_captured_server_log_maps_to_a_well_formed_trace() -> None:
    """tests/data/event_log.json: native and LangGraph runs of a real server, every event type."""
    from tests.unit.test_event_types import _log, _recorded

    runs: dict[str, list[RecordedEvent]] = {}
    for row in _log():
        if row["stream_id"].startswith("run:"):
            runs.setdefault(row["stream_id"].removeprefix("run:"), []).append(_recorded(row))
    memory = InMemorySpanExporter()
    exporter = TraceExporter([memory], Resource({}))
    node_spans = 0
    statuses = set()
    for run_id, events in runs.items():
        trace = run_trace(run_id, events)
        keys = [s.key for s in trace.spans]
        assert len(keys) == len(set(keys)), run_id
        assert [s for s in trace.spans if s.parent is None] == [trace.root]
        assert all(s.parent in keys for s in trace.spans[1:]), run_id
        node_spans += sum(s.name.startswith("node ") for s in trace.spans)
        statuses.add(trace.root.attributes["duragraph.status"])
        exporter.export(trace)
    assert node_spans > 0
    assert {"success", "error", "interrupted", "cancelled", "timeout"} <= statuses
    assert len(memory.get_finished_spans()) == sum(len(run_trace(r, e).spans) for r, e in runs.items())
