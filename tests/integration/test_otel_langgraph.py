"""LangChain model and tool calls of a LangGraph run: recorded with their task's node_completed
(timed, with the usage the chat model reported) and exported as GenAI ``chat`` and
``execute_tool`` spans, to a real OTLP/HTTP receiver, by the API server's exporter loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.api.backend import Backend
from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.otel.export import trace_id
from duragraph_lab.runtime.config import Settings
from tests.helpers import eventually
from tests.otlp_receiver import OtlpReceiver

pytest.importorskip("langchain")


@pytest.fixture
async def traced_langgraph(
    tmp_path: Path, database_url: str, nats_server: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Backend, OtlpReceiver]]:
    receiver = OtlpReceiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=nats_server, subject_prefix="otellg"
    )
    backend = Backend(settings, graphs=["tests.lg_graphs:metered_agent"])
    backend.prepare()
    await backend.start()
    await backend.wait_ready()
    yield backend, receiver
    await backend.stop()
    receiver.close()
    nc = await connect_nats(nats_server)
    await nc.jetstream().delete_stream(Subjects("otellg").stream_name)
    await nc.close()


async def _create(backend: Backend) -> Any:
    try:
        return await backend.control.runs.create_run(
            "lg_metered_agent", {"messages": [{"type": "human", "content": "add 1 and 2"}]}
        )
    except DuraGraphError:
        return None  # the in-process worker has not registered the graph yet


async def test_a_create_agent_runs_model_and_tool_calls_are_recorded_and_exported(
    traced_langgraph: tuple[Backend, OtlpReceiver],
) -> None:
    backend, receiver = traced_langgraph
    ref = await eventually(lambda: _create(backend), timeout=60)
    state = await backend.control.runs.wait(ref.run_id, timeout=60)
    assert state.status is RunStatus.SUCCESS, state.error

    # The log: each node_completed carries its task's calls, timed inside the node.
    page = await backend.control.run_queries.events(ref.run_id)
    completed = [e.data for e in page.events if e.type == "node_completed"]
    assert [d["node"] for d in completed] == ["model", "tools", "model"]
    first, tools, last = completed
    [call] = first["model_calls"]
    assert call["model"] == "metered-1" and call["response_model"] == "metered-1-2026"
    assert call["provider"] == "meteredfake" and call["finish_reason"] == "tool_calls"
    assert call["usage"] == {"input_tokens": 10, "output_tokens": 7}
    assert call["request"] == {"messages": 1, "tools": []}
    assert "response" not in call  # the answer is the task's update, not copied
    assert first["started_at"] <= call["started_at"] < call["finished_at"] <= first["finished_at"]
    assert call["finished_at"] - call["started_at"] >= 0.05
    assert last["model_calls"][0]["usage"] == {"input_tokens": 30, "output_tokens": 5}
    [tool] = tools["tool_calls"]
    assert tool["name"] == "add" and tool["id"] == "call-1" and "error" not in tool
    assert tools["started_at"] <= tool["started_at"] <= tool["finished_at"] <= tools["finished_at"]
    assert "model_calls" not in tools and "tool_calls" not in first

    # The trace: chat spans with the GenAI attributes and their own times, one execute_tool span.
    spans = await eventually(lambda: receiver.trace(f"{trace_id(ref.run_id):032x}") or None, timeout=30)
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert sorted(by_name) == [
        "chat metered-1",
        "execute_tool add",
        "node model",
        "node tools",
        "run lg_metered_agent",
    ]
    chats = sorted(by_name["chat metered-1"], key=lambda s: s.start_ns)
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [10, 30]
    assert [c.attributes["gen_ai.usage.output_tokens"] for c in chats] == [7, 5]
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [["tool_calls"], ["stop"]]
    assert {c.attributes["gen_ai.operation.name"] for c in chats} == {"chat"}
    assert {c.attributes["gen_ai.provider.name"] for c in chats} == {"meteredfake"}
    assert {c.attributes["gen_ai.request.model"] for c in chats} == {"metered-1"}
    assert {c.attributes["gen_ai.response.model"] for c in chats} == {"metered-1-2026"}
    nodes = sorted(by_name["node model"], key=lambda s: s.start_ns)
    for chat, node in zip(chats, nodes, strict=True):
        assert chat.parent_span_id == node.span_id
        assert node.start_ns <= chat.start_ns < chat.end_ns <= node.end_ns
        assert chat.end_ns - chat.start_ns >= 50_000_000
        assert (chat.start_ns, chat.end_ns) != (node.start_ns, node.end_ns)
    [tool_span] = by_name["execute_tool add"]
    [tools_node] = by_name["node tools"]
    assert tool_span.parent_span_id == tools_node.span_id
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call-1"
    [root] = by_name["run lg_metered_agent"]
    assert root.attributes["duragraph.usage.input_tokens"] == 40
    assert root.attributes["duragraph.usage.output_tokens"] == 12

    # The read models: tokens per node execution and per run, as the API answers them.
    from duragraph_lab.api.runs import run_json

    record = await backend.control.run_queries.get(ref.run_id)
    assert run_json(record)["usage"] == {"input_tokens": 40, "output_tokens": 12}
    rows = await backend.control.run_queries.spans(ref.run_id)
    assert [(r.node, r.input_tokens, r.output_tokens) for r in rows] == [
        ("model", 10, 7),
        ("tools", None, None),
        ("model", 30, 5),
    ]
