"""OpenTelemetry export from the event log: over OTLP/gRPC to a real gRPC trace service, and by
the API server's own exporter loop (the OTEL_* environment turns it on) over OTLP/HTTP."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from duragraph_lab.api.backend import Backend
from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.engine.local import LocalRuntime
from duragraph_lab.otel import export_configured
from duragraph_lab.otel.export import TraceExporter, span_id, trace_id
from duragraph_lab.otel.spans import run_trace
from duragraph_lab.runtime.config import Settings
from tests.helpers import eventually
from tests.otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[tuple[trace_service_pb2.ExportTraceServiceRequest, dict[str, str]]] = []
        self.lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.requests.append((request, dict(context.invocation_metadata())))
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[TraceService, int]]:
    service = TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, port
    server.stop(grace=None)


async def test_a_trace_goes_over_grpc_with_the_environments_settings(
    monkeypatch: pytest.MonkeyPatch, offline: None, grpc_receiver: tuple[TraceService, int]
) -> None:
    from duragraph_lab.demo.chat import graph

    service, port = grpc_receiver
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=grpc-tests")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "over-grpc")
    runtime = LocalRuntime()
    await runtime.invoke(graph, {"messages": [("user", "what is 2 + 3")]}, None)
    [(stream, events)] = runtime.journal.streams.items()
    run_id = stream.removeprefix("run:")
    trace = run_trace(run_id, events)
    exporter = TraceExporter()
    assert [type(e).__name__ for e in exporter.exporters] == ["OTLPSpanExporter"]
    assert type(exporter.exporters[0]).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    assert exporter.export(trace) == len(trace.spans)
    exporter.shutdown()
    [(request, metadata)] = service.requests
    assert metadata["x-tenant"] == "grpc-tests"
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "over-grpc"
    received = [s for ss in resource_spans.scope_spans for s in ss.spans]
    assert len(received) == len(trace.spans)
    assert {s.trace_id.hex() for s in received} == {f"{trace_id(run_id):032x}"}
    assert {s.span_id.hex() for s in received} == {f"{span_id(run_id, s.key):016x}" for s in trace.spans}


def test_the_environment_turns_the_servers_exporter_on_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert not export_configured()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert export_configured()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not export_configured()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not export_configured()


@pytest.fixture
async def traced_backend(
    tmp_path: Path, database_url: str, nats_server: str, monkeypatch: pytest.MonkeyPatch, offline: None
) -> AsyncIterator[tuple[Backend, OtlpReceiver]]:
    receiver = OtlpReceiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=nats_server, subject_prefix="otel"
    )
    backend = Backend(settings, graphs=["duragraph_lab.demo.chat:graph"])
    backend.prepare()
    await backend.start()
    await backend.wait_ready()
    yield backend, receiver
    await backend.stop()
    receiver.close()
    nc = await connect_nats(nats_server)
    await nc.jetstream().delete_stream(Subjects("otel").stream_name)
    await nc.close()


async def test_the_api_server_exports_runs_as_they_end(traced_backend: tuple[Backend, OtlpReceiver]) -> None:
    backend, receiver = traced_backend
    assert backend.trace_export is not None
    control = backend.control

    ref = await eventually(lambda: _create_chat(backend), timeout=30)
    state = await control.runs.wait(ref.run_id, timeout=60)
    assert state.status is RunStatus.SUCCESS, state.error
    spans = await eventually(lambda: receiver.trace(f"{trace_id(ref.run_id):032x}"), timeout=30)
    names = sorted(s.name for s in spans)
    assert names.count("node agent") == 2 and "execute_tool calculator" in names
    assert names.count("chat scripted") == 2 and "run chat" in names
    assert {s.resource["service.name"] for s in spans} == {"duragraph-lab"}
    # Each chat and tool span has the call's own times, inside its node's.
    by_id = {s.span_id: s for s in spans}
    for call in (s for s in spans if s.name in ("chat scripted", "execute_tool calculator")):
        node = by_id[call.parent_span_id]
        assert node.start_ns <= call.start_ns <= call.end_ns <= node.end_ns
        assert (call.start_ns, call.end_ns) != (node.start_ns, node.end_ns)
    page = await control.run_queries.events(ref.run_id)
    [tools] = [e.data for e in page.events if e.type == "node_completed" and e.data["node"] == "tools"]
    assert [(c["name"], "error" in c) for c in tools["tool_calls"]] == [("calculator", False)]
    # Tokens per run and per node execution in the read models (the scripted model counts words).
    record = await control.run_queries.get(ref.run_id)
    assert record.input_tokens and record.output_tokens
    rows = await control.run_queries.spans(ref.run_id)
    assert sum(r.input_tokens or 0 for r in rows) == record.input_tokens
    assert [r.node for r in rows if r.input_tokens] == ["agent", "agent"]


async def _create_chat(backend: Backend) -> Any:
    from duragraph_lab.domain.errors import DuraGraphError

    try:
        return await backend.control.runs.create_run(
            "chat", {"messages": [{"type": "human", "content": "what is 2 + 3"}]}
        )
    except DuraGraphError:
        return None  # the in-process worker has not registered the graph yet


async def test_the_export_command_says_what_is_wrong_in_one_line(database_url: str) -> None:
    import asyncio
    import os
    import subprocess

    from tests.devserver import cli

    root = ROOT
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base |= {"PYTHONPATH": str(root), "DURAGRAPH_DATABASE_URL": database_url}

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli(), "otel", "export", *args],
            cwd=root,
            env=base | env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    unknown = "0195f0a4-0000-7000-8000-0000000000ff"
    done = await asyncio.to_thread(
        run,
        "--run",
        unknown,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"run {unknown}: error: no run {unknown} in the event log"
    done = await asyncio.to_thread(run, "--run", unknown, OTEL_TRACES_EXPORTER="none")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("OTEL_TRACES_EXPORTER is none: nothing to export to")
    done = await asyncio.to_thread(run)
    assert done.returncode == 2 and "--run" in done.stderr
