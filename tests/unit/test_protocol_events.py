"""The mapping from stored events to the thread-centric protocol's events (a pure function of
the log): what each stored event becomes, the same ids on every replay, a replay from any point
that is exactly the rest of the full mapping, and the subscription filter."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

from duragraph_lab import interrupt
from duragraph_lab.api.protocol_events import (
    ProtocolEncoder,
    channel_of,
    matches,
    namespace_of,
    protocol_events,
    stamp,
)
from duragraph_lab.api.streaming import LIVE_CUSTOM, LIVE_MESSAGES
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import fold
from duragraph_lab.engine import commands
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.memory import MemoryJournal
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START

THREAD = str(uuid.uuid4())


class Log(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    answer: Any


def _nested() -> CompiledGraph:
    inner = StateGraph(Log)
    inner.add_node("i1", lambda s: {"log": ["i1"]})
    inner.add_edge(START, "i1")
    inner.add_edge("i1", END)
    g = StateGraph(Log)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("sub", inner.compile(name="inner"))
    g.add_edge(START, "a")
    g.add_edge("a", "sub")
    g.add_edge("sub", END)
    return g.compile(name="outer")


def _asking() -> CompiledGraph:
    g = StateGraph(Log)
    g.add_node("ask", lambda s: {"answer": interrupt({"q": "ok?"})})
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile(name="asking")


async def run(graph: CompiledGraph) -> tuple[str, list[RecordedEvent]]:
    journal = MemoryJournal()
    run_id = str(uuid.uuid4())
    created = commands.run_created(
        run_id=run_id,
        thread_id=THREAD,
        graph_id=graph.name,
        assistant_id=None,
        channels=graph.spec.channels,
        nodes=list(graph.spec.nodes),
        input={"log": []},
    )
    journal.append(run_id, 0, [created])
    await RunExecutor(graph.spec, journal, run_id).run()
    return run_id, journal.streams[run_id]


def flat(mapped: list[tuple[RecordedEvent, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [e for _, events in mapped for e in events]


def of(events: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [e for e in events if e["method"] == method]


async def test_a_run_with_a_subgraph() -> None:
    run_id, stored = await run(_nested())
    events = flat(protocol_events(run_id, THREAD, stored))
    assert all(e["type"] == "event" and e["event_id"] for e in events)
    root = [e for e in events if not e["params"]["namespace"]]
    inner = [e for e in events if e["params"]["namespace"]]
    lifecycle = [e["params"]["data"]["event"] for e in of(root, "lifecycle")]
    assert lifecycle == ["started", "completed"]
    assert of(root, "lifecycle")[0]["params"]["data"]["graph_name"] == "outer"
    assert [e["params"]["data"]["node"] for e in of(root, "updates")] == ["a", "sub"]
    assert of(root, "values")[-1]["params"]["data"] == {"log": ["a", "i1"]}
    [space] = {tuple(e["params"]["namespace"]) for e in inner}
    assert len(space) == 1 and space[0].startswith("sub:")
    assert [e["params"]["data"]["event"] for e in of(inner, "lifecycle")] == ["started", "completed"]
    assert [e["params"]["data"]["node"] for e in of(inner, "updates")] == ["i1"]
    # Tasks: a start (id, name, input, triggers) and a result for each node.
    starts = [e["params"]["data"] for e in of(root, "tasks") if "result" not in e["params"]["data"]]
    assert [t["name"] for t in starts] == ["a", "sub"]


async def test_the_mapping_is_deterministic_and_a_replay_is_the_rest_of_it() -> None:
    run_id, stored = await run(_nested())
    full = protocol_events(run_id, THREAD, stored)
    assert flat(full) == flat(protocol_events(run_id, THREAD, stored))
    ids = [e["event_id"] for e in flat(full)]
    assert len(ids) == len(set(ids))
    for k in range(1, len(stored)):
        # A stream resumed after stored event k-1: the state before it, then the rest.
        before = stored[:k]
        encoder = ProtocolEncoder(run_id, THREAD, state=fold(before))
        encoder.prime(before)
        for ns in {str(e.data["ns"]) for e in before if e.data.get("ns")}:
            encoder.ns_state(ns, fold(before, ns=ns))
        rest = [e for event in stored[k:] for e in encoder.on_event(event)]
        assert rest == flat(full[k:]), k


async def test_an_interrupt_is_an_input_request() -> None:
    run_id, stored = await run(_asking())
    events = flat(protocol_events(run_id, THREAD, stored))
    [asked] = of(events, "input.requested")
    data = asked["params"]["data"]
    # `payload` for the protocol, `value` for langgraph-sdk 0.4's client.
    assert data["payload"] == data["value"] == {"q": "ok?"}
    assert data["interrupt_id"]
    assert of(events, "lifecycle")[-1]["params"]["data"]["event"] == "interrupted"
    assert all("__interrupt__" not in e["params"]["data"] for e in of(events, "values"))


def test_live_events() -> None:
    encoder = ProtocolEncoder("r", THREAD)
    [custom] = encoder.on_live({"kind": LIVE_CUSTOM, "payload": {"name": "progress", "i": 1}, "ns": ""})
    assert custom["params"]["data"] == {"payload": {"name": "progress", "i": 1}, "name": "progress"}
    assert channel_of(custom) == "custom:progress" and "event_id" not in custom
    first = encoder.on_live({"kind": LIVE_MESSAGES, "payload": {"id": "m", "delta": "he"}, "node": "agent"})
    second = encoder.on_live({"kind": LIVE_MESSAGES, "payload": {"id": "m", "delta": "y"}, "node": "agent"})
    assert [e["params"]["data"]["event"] for e in first] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
    ]
    assert [e["params"]["data"]["delta"]["text"] for e in second] == ["y"]


def test_matches_channels_namespaces_and_depth() -> None:
    def event(method: str, namespace: list[str], data: Any = None) -> dict[str, Any]:
        return {"type": "event", "method": method, "params": {"namespace": namespace, "data": data or {}}}

    root, child, grandchild = [], ["sub:t1"], ["sub:t1", "deep:t2"]
    assert matches(event("values", root), ["values"], None, None)
    assert not matches(event("values", root), ["updates"], None, None)
    assert matches(event("input.requested", root), ["input"], None, None)
    assert matches(event("custom", root, {"name": "x"}), ["custom"], None, None)
    assert matches(event("custom", root, {"name": "x"}), ["custom:x"], None, None)
    assert not matches(event("custom", root, {"name": "x"}), ["custom:y"], None, None)
    assert not matches(event("unknown", root), ["values"], None, None)
    # Depth below the root, or below each prefix; a prefix without ":" matches any task id.
    assert matches(event("values", root), ["values"], None, 0)
    assert not matches(event("values", child), ["values"], None, 0)
    assert matches(event("values", child), ["values"], [["sub"]], 0)
    assert not matches(event("values", grandchild), ["values"], [["sub"]], 0)
    assert matches(event("values", grandchild), ["values"], [["sub"]], 1)
    assert matches(event("values", child), ["values"], [["sub:t1"]], None)
    assert not matches(event("values", child), ["values"], [["sub:t9"]], None)
    assert not matches(event("values", root), ["values"], [["sub"]], None)


def test_stamp_and_namespaces() -> None:
    events = [{"method": "values"}, {"method": "updates"}]
    assert [e.get("seq") for e in stamp(events, 7)] == [None, 7]
    assert stamp([], 7) == []
    assert namespace_of("sub:t1|deep:t2|") == ["sub:t1", "deep:t2"]
    assert namespace_of("") == []


def _pe(method: str, namespace: list[str], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "event",
        "method": method,
        "params": {"namespace": namespace, "timestamp": 0, "data": data},
    }


def test_agent_tree_closes_a_subgraph_when_work_moves_elsewhere() -> None:
    from duragraph_lab.api.protocol_events import agent_tree

    a, b = ["a:1"], ["b:2"]
    events = [
        _pe("lifecycle", [], {"event": "started", "graph_name": "g"}),
        _pe("lifecycle", a, {"event": "started", "graph_name": "sub"}),
        _pe("lifecycle", [*a, "deep:3"], {"event": "started"}),
        _pe("updates", a, {"node": "x", "values": {}}),  # back in a: deep is done
        _pe("updates", [], {"node": "a", "values": {}}),  # back at the root: a is done
        _pe("lifecycle", b, {"event": "started", "graph_name": "sub"}),
        _pe("values", [], {}),  # a state report, then the run pauses inside b
        _pe("lifecycle", [], {"event": "interrupted"}),
    ]
    tree = agent_tree(events, "g")
    assert tree["status"] == "interrupted" and tree["graph_name"] == "g"
    first, second = tree["children"]
    assert (first["namespace"], first["status"]) == (a, "completed")
    assert first["children"] == [{"namespace": [*a, "deep:3"], "status": "completed", "graph_name": "deep"}]
    assert (second["namespace"], second["status"], "children" in second) == (b, "interrupted", False)
    assert agent_tree([], "g") == {"namespace": [], "status": "started", "graph_name": "g"}
