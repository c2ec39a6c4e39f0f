"""``update_state`` on a native graph that only a separate worker process serves: the API server
has no code for it, so the edit is an edit request that the worker leases and applies (reducers,
``as_node``'s router) under its lease; the API call waits for it. With no worker serving the
graph the call answers 503 and nothing changes. The official ``langgraph-sdk`` as the client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

from tests.apiserver import ApiServer
from tests.devserver import DevServer, cli

REPO = Path(__file__).resolve().parents[2]
GRAPH = "routed_remote"


def _worker(server: ApiServer, name: str, tmp_path: Path, graph: str = GRAPH) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
    env["PYTHONPATH"] = str(REPO)
    url = f"http://127.0.0.1:{server.port}/"
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 -- the process writes it until stopped
    return subprocess.Popen(
        [
            *cli(),
            "worker",
            f"tests.api_graphs:{graph}",
            "--server",
            url,
            "--token",
            server.token,
            "--worker-id",
            name,
            "--data-dir",
            str(tmp_path / "nothing"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _serving(server: ApiServer, name: str | None, timeout: float = 60.0, graph: str = GRAPH) -> None:
    """Until ``name`` is the one live worker serving the graph (None: until none is)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = httpx.get(f"{server.base}/workers", headers=server.headers, timeout=10).json()
        if workers["graphs"].get(graph, []) == ([name] if name else []):
            return
        time.sleep(0.1)
    raise AssertionError(f"worker {name} serving {graph}: {workers}")


@pytest.fixture
def sdk(api_server: ApiServer) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=api_server.base, headers=api_server.headers, timeout=60) as client:
        yield client


def _events(server: ApiServer, run_id: str) -> list[dict[str, Any]]:
    got = httpx.get(f"{server.base}/runs/{run_id}/events?limit=100", headers=server.headers, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    return list(body["events"] if isinstance(body, dict) else body)


def test_a_worker_process_applies_the_edit_with_its_code_and_without_one_it_is_a_503(
    api_server: ApiServer, sdk: SyncLangGraphClient, tmp_path: Path
) -> None:
    name = f"edits-{uuid.uuid4().hex[:8]}"
    proc = _worker(api_server, name, tmp_path)
    try:
        _serving(api_server, name)
        thread_id = sdk.threads.create()["thread_id"]
        assert sdk.runs.wait(thread_id, GRAPH, input={"n": 0})["log"] == ["a", "b", "d"]

        # as_node's router, evaluated by the worker on the edited state; the custom reducer too.
        sdk.threads.update_state(thread_id, {"n": 50, "high": 3}, as_node="a")
        state = sdk.threads.get_state(thread_id)
        assert state["next"] == ["c"] and state["values"]["n"] == 50
        assert state["values"]["high"] == 5  # keep_max(5, 3), not overwritten
        assert state["metadata"]["source"] == "update"
        assert state["metadata"]["writes"] == {"a": {"n": 50, "high": 5}}
        # Executed by that worker under its lease (a fenced commit, with its epoch).
        edit_run = state["metadata"]["run_id"]
        events = _events(api_server, edit_run)
        started = next(e for e in events if e["type"] == "run_started")
        assert started["data"]["worker_id"] == name and started["data"]["epoch"] is not None
        assert [e["type"] for e in events][-2:] == ["run_completed", "state_updated"]
        # A run with no input continues from what the edit decided.
        assert sdk.runs.wait(thread_id, GRAPH, input=None)["log"] == ["a", "b", "d", "c"]
        # At an earlier checkpoint (time travel): the worker routes there too.
        history = sdk.threads.get_history(thread_id, limit=50)
        at = next(h for h in history if h["next"] == ["d"])
        sdk.threads.update_state(thread_id, {"n": 60}, as_node="a", checkpoint_id=at["checkpoint_id"])
        branched = sdk.threads.get_state(thread_id)
        assert branched["next"] == ["c"] and branched["values"]["log"] == ["a", "b"]
        assert sdk.runs.wait(thread_id, GRAPH, input=None)["log"] == ["a", "b", "c"]

        # A thread without runs: as LangGraph, the edit is START's write (or as_node's), and
        # what that leads to is next (the worker plans it from the graph's edges and routers).
        fresh = sdk.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
        sdk.threads.update_state(fresh, {"n": 50})
        assert sdk.threads.get_state(fresh)["next"] == ["a"]
        routed = sdk.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
        sdk.threads.update_state(routed, {"n": 50}, as_node="a")
        assert sdk.threads.get_state(routed)["next"] == ["c"]
        assert sdk.runs.wait(routed, GRAPH, input=None)["log"] == ["c"]

        # Refused by the graph's code (two nodes wrote last together): a 422, the state as it was.
        paused_thread = sdk.threads.create()["thread_id"]
        sdk.runs.wait(paused_thread, GRAPH, input={"n": 99}, interrupt_before=["d"])
        paused = sdk.threads.get_state(paused_thread)
        assert paused["next"] == ["d"]
        with pytest.raises(UnprocessableEntityError, match="Ambiguous update, specify as_node"):
            sdk.threads.update_state(paused_thread, {"n": 1})
        after = sdk.threads.get_state(paused_thread)
        assert after["values"] == paused["values"] and after["next"] == ["d"]
        assert sdk.threads.get(paused_thread)["status"] == "interrupted"
        final = sdk.runs.wait(paused_thread, GRAPH, input=None)  # still resumes where it paused
        assert final["log"][-1] == "d"
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    # Nobody serves the graph: a clear 503, nothing written.
    _serving(api_server, None)
    before = sdk.threads.get_state(thread_id)
    status, body, _ = api_server.request(
        "POST", f"/threads/{thread_id}/state", {"values": {"n": 1}, "as_node": "a"}
    )
    assert status == 503, body
    assert body["error"] == "worker_unavailable" and "no worker serves it" in body["message"], body
    assert sdk.threads.get_state(thread_id)["checkpoint"] == before["checkpoint"]


def test_the_edit_request_timeout_is_a_server_setting(tmp_path: Path) -> None:
    """``--DuraGraphApp.edit_request_timeout``: how long update_state waits for the worker serving
    the graph. Here that worker is stopped (SIGSTOP: still live by its last heartbeat, applying
    nothing), so the edit is withdrawn after the configured 1.5 s, not the default 30 s."""
    server = ApiServer(tmp_path / "data", extra=["--DuraGraphApp.edit_request_timeout=1.5"]).start()
    name = f"stopped-{uuid.uuid4().hex[:8]}"
    proc = _worker(server, name, tmp_path)
    try:
        _serving(server, name)
        with get_sync_client(url=server.base, headers=server.headers, timeout=60) as client:
            thread_id = client.threads.create()["thread_id"]
            client.runs.wait(thread_id, GRAPH, input={"n": 0})
            before = client.threads.get_state(thread_id)
            proc.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            status, body, _ = server.request(
                "POST", f"/threads/{thread_id}/state", {"values": {"n": 1}, "as_node": "a"}
            )
            waited = time.monotonic() - started
            assert status == 503 and body["error"] == "worker_unavailable", body
            assert "within 1.5s" in body["message"] and "withdrawn" in body["message"], body
            assert 1.4 < waited < 20, waited  # the default would wait 30 s
            after = client.threads.get_state(thread_id)
            assert after["values"] == before["values"] and after["next"] == before["next"]
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=30)
        server.kill()


def test_a_bad_edit_request_timeout_is_a_configuration_error(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data", extra=["--DuraGraphApp.edit_request_timeout=0"])
    try:
        DevServer.start(server)  # ready, degraded: the configuration error is said, not a crash
        assert "DEGRADED (invalid configuration: c.DuraGraphApp.edit_request_timeout" in server.output()
        _, health = server.api("health", token=server.token)
        assert "edit_request_timeout" in json.dumps(health), health
    finally:
        server.kill()


def test_a_worker_process_reroutes_an_edit_of_a_run_paused_mid_step(
    api_server: ApiServer, sdk: SyncLangGraphClient, tmp_path: Path
) -> None:
    """``b`` finished and ``c`` waits for a human in the same step; only a worker process has the
    graph's code. As LangGraph (see the SDK test comparing with an InMemorySaver): the edit
    replaces the step, applied on the state it started from, routed from the step's writer."""
    graph = "ask_in_parallel_remote"
    name = f"midstep-{uuid.uuid4().hex[:8]}"
    proc = _worker(api_server, name, tmp_path, graph)
    try:
        _serving(api_server, name, graph=graph)
        thread_id = sdk.threads.create()["thread_id"]
        paused = sdk.runs.wait(thread_id, graph, input={"n": 0})
        assert paused["__interrupt__"][0]["node"] == "c"
        # b's write applied to the paused state, by the built-in reducer (no code needed).
        assert sdk.threads.get_state(thread_id)["next"] == ["c"]
        assert sdk.threads.get_state(thread_id)["values"] == {"n": 0, "log": ["a", "b"]}
        [first] = sdk.runs.list(thread_id)
        page = sdk.http.get(f"/runs/{first['run_id']}/events", params={"limit": 1000})
        [b_done] = [e for e in page["events"] if e["type"] == "node_completed" and e["data"]["node"] == "b"]
        sdk.threads.update_state(thread_id, {"n": 7})
        state = sdk.threads.get_state(thread_id)
        assert state["next"] == ["b", "c"] and state["values"] == {"n": 7, "log": ["a"]}
        assert state["metadata"]["writes"] == {"a": {"n": 7}}
        again = sdk.runs.wait(thread_id, graph, input=None)  # b again, c asks again
        assert again["__interrupt__"][0]["node"] == "c" and again["n"] == 7
        sdk.threads.update_state(thread_id, {"n": 8}, as_node="d")
        assert sdk.threads.get_state(thread_id)["next"] == []
        assert sdk.runs.wait(thread_id, graph, input=None) == {"n": 8, "log": ["a"]}
        # At the point right after b finished (the run since edited and finished): the edit
        # request replaces the step there too, rerouted by as_node.
        sdk.threads.update_state(thread_id, {"n": 9}, as_node="a", checkpoint_id=b_done["event_id"])
        state = sdk.threads.get_state(thread_id)
        assert state["next"] == ["b", "c"] and state["values"] == {"n": 9, "log": ["a"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
