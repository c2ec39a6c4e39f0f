"""OpenTelemetry traces of runs executed by real worker processes, exported from the event log to
a real OTLP/HTTP receiver (tests/otlp_receiver.py decodes the protobufs): the demo chat graph,
and a run whose worker was killed with SIGKILL mid-node and that another worker finished."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from duragraph_lab.bus import Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain.assistants import default_assistant_id
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.otel.export import TraceExporter, trace_id
from duragraph_lab.otel.loop import TraceExportLoop
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore, open_pool
from duragraph_lab.store.export_cursor import PgExportCursor
from tests.devserver import cli
from tests.fault.conftest import Faults
from tests.fault.workers import ROOT, sql, wait_for
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_OK, STATUS_ERROR = 1, 2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver()
    yield r
    r.close()


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver) -> None:
    """The standard variables only: the SDK reads them."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=lab-tests")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "duragraph-tests")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    for key in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")


@pytest.fixture
async def store(faults: Faults) -> AsyncIterator[PostgresEventStore]:
    pool = await open_pool(faults.database_url, max_size=4)
    yield PostgresEventStore(pool)
    await pool.close()


def plane(store: PostgresEventStore, faults: Faults) -> ControlPlane:
    return control_plane(store, BusLink(Subjects(faults.prefix)))


def trace_of(receiver: OtlpReceiver, run_id: str) -> list[ReceivedSpan]:
    return receiver.trace(f"{trace_id(run_id):032x}")


def check_tree(spans: list[ReceivedSpan]) -> ReceivedSpan:
    """One root; every other span's parent is in the trace and contains it in time."""
    [root] = [s for s in spans if not s.parent_span_id]
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans), "span ids are unique"
    for s in spans:
        if s is root:
            continue
        parent = by_id[s.parent_span_id]
        assert parent.start_ns <= s.start_ns <= s.end_ns <= parent.end_ns, s.name
    return root


def wait_registered(url: str, graph_id: str) -> None:
    """Until runs can be created by graph id: the graph and its default assistant (written in a
    transaction of its own, after the graph's) are in the read models."""
    wait_for(
        lambda: sql(
            url,
            "SELECT 1 FROM duragraph.graphs g JOIN duragraph.assistants a USING (graph_id)"
            " WHERE g.graph_id = %s AND a.assistant_id = %s",
            (graph_id, default_assistant_id(graph_id)),
        ),
        30,
        f"{graph_id} and its default assistant to be registered",
    )


async def test_traces_of_real_runs_survive_a_killed_worker_and_restarts(
    faults: Faults, otel_env: None, receiver: OtlpReceiver, store: PostgresEventStore
) -> None:
    url = faults.database_url
    loop = TraceExportLoop(
        store, PgExportCursor(store), TraceExporter().export, holder="server-1", settle=0.0, lease_ttl=5
    )
    assert await loop.run_once() == 0  # the first claim starts the cursor at the end of the log
    killed = faults.start("tests.fault.fault_graphs:ten", "worker-a", 2.0)
    faults.start("duragraph_lab.demo.chat:graph", "worker-chat", 2.0)
    wait_registered(url, "ten")
    wait_registered(url, "chat")
    control = plane(store, faults)
    chat = await control.runs.create_run(
        "chat", {"messages": [{"type": "human", "content": "what is 2 + 3"}]}
    )
    ten = await control.runs.create_run("ten", {"n": 0, "hang": True})
    wait_for(
        lambda: sql(url, "SELECT 1 FROM side_effects WHERE run_id = %s AND node = 'n4'", (ten.run_id,)),
        30,
        "the worker to be inside n4",
    )
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait()
    faults.start("tests.fault.fault_graphs:ten", "worker-b", 2.0)
    for ref in (chat, ten):
        state = await control.runs.wait(ref.run_id, timeout=60)
        assert state.status is RunStatus.SUCCESS, state.error
    assert await loop.run_once() == 2

    # The run whose worker died in n4: every node once, ok (the killed attempt committed nothing),
    # both pick-ups on the run span, which ends after the last node.
    spans = trace_of(receiver, ten.run_id)
    root = check_tree(spans)
    assert root.name == "run ten" and root.status_code == STATUS_OK
    assert root.attributes["duragraph.run_id"] == ten.run_id
    assert [a["worker_id"] for name, a in root.events if name == "run_started"] == ["worker-a", "worker-b"]
    nodes = sorted((s for s in spans if s.name.startswith("node ")), key=lambda s: s.start_ns)
    assert [s.name for s in nodes] == [f"node n{i}" for i in range(10)]
    assert all(s.parent_span_id == root.span_id and s.status_code == STATUS_OK for s in nodes)
    assert root.resource["service.name"] == "duragraph-tests"
    assert root.resource["deployment.environment.name"] == "test"
    assert root.scope == "duragraph_lab"
    assert all(h.get("x-tenant") == "lab-tests" for h in receiver.headers)

    # The chat run: GenAI spans for the model calls, an execute_tool span for the calculator.
    spans = trace_of(receiver, chat.run_id)
    root = check_tree(spans)
    assert root.name == "run chat"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2
    for s in chats:
        assert s.kind == SPAN_KIND_CLIENT and s.name == "chat scripted"
        assert s.attributes["gen_ai.request.model"] == "scripted"
        assert s.attributes["gen_ai.provider.name"] == "duragraph_lab.scripted"
        assert s.attributes["gen_ai.usage.input_tokens"] > 0
        assert s.attributes["gen_ai.usage.output_tokens"] > 0
    assert sorted(s.attributes["gen_ai.response.finish_reasons"][0] for s in chats) == ["stop", "tool_calls"]
    [tool] = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert tool.name == "execute_tool calculator" and tool.kind == SPAN_KIND_INTERNAL
    first_ids = {s.span_id for s in spans}

    # A restart: the cursor is in PostgreSQL, so a new loop (another server) exports only what
    # ended since, and nothing twice.
    await loop.stop()
    faults.start("tests.fault.fault_graphs:six", "worker-six", 2.0)
    wait_registered(url, "six")
    later = await control.runs.create_run("six", {"n": 0})
    assert (await control.runs.wait(later.run_id, timeout=60)).status is RunStatus.SUCCESS
    again = TraceExportLoop(
        store, PgExportCursor(store), TraceExporter().export, holder="server-2", settle=0.0, lease_ttl=5
    )
    assert await again.run_once() == 1
    assert await again.run_once() == 0
    assert len([s for s in trace_of(receiver, later.run_id) if s.name.startswith("node ")]) == 6
    assert len(trace_of(receiver, chat.run_id)) == len(first_ids)  # not exported twice
    await again.stop()

    # Re-export by hand: the same trace and span ids.
    env: dict[str, Any] = {**faults.env}
    done = await asyncio.to_thread(
        subprocess.run,
        [*cli(), "otel", "export", "--run", chat.run_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"run {chat.run_id}: exported {len(first_ids)} spans (ended)" in done.stdout
    spans = trace_of(receiver, chat.run_id)
    assert len(spans) == 2 * len(first_ids)
    assert {s.span_id for s in spans} == first_ids


async def test_a_second_server_waits_for_the_cursors_lease(
    faults: Faults, otel_env: None, store: PostgresEventStore
) -> None:
    first = PgExportCursor(store)
    seq = await first.claim("server-1", ttl=30)
    assert seq is not None
    assert await first.claim("server-2", ttl=30) is None
    assert not await first.advance("server-2", seq + 5, ttl=30)
    assert await first.advance("server-1", seq + 5, ttl=30)
    assert await first.advance("server-1", seq, ttl=30)  # never backwards
    await first.release("server-1")
    assert await first.claim("server-2", ttl=30) == seq + 5
