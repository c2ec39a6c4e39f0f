"""Worker presence, said everywhere a user looks: ``GET /workers`` lists the live workers and the
graphs each serves; a run of a graph no worker serves is ``pending`` with ``waiting_for``
(``no_worker``, and a message saying what to do), in the run JSON, the client and the notebook
handle; assistants whose graph nobody serves are ``served: false``. A real server, and a real
worker (a kernel-style one in this process) that starts, stops and starts again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, TypedDict

import httpx
import pytest

from duragraph_lab import END, START, StateGraph
from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.session import Session
from tests.apiserver import ApiServer


class S(TypedDict, total=False):
    n: int


def _graph() -> StateGraph:
    g = StateGraph(S)
    g.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g


@pytest.fixture
def session(api_server: ApiServer) -> Iterator[Session]:
    s = Session()
    s.connect(f"http://127.0.0.1:{api_server.port}/", api_server.token)
    try:
        yield s
    finally:
        s.stop_serving()
        s.client.close()


def _api(server: ApiServer, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{server.base}/{path}", json=body, headers=server.headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _status(client: DuraGraphClient, run_id: str, want: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := client.runs.get(run_id).status) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_a_run_nobody_serves_says_so_until_a_worker_serves_it(
    session: Session, api_server: ApiServer
) -> None:
    name = f"presence_{uuid.uuid4().hex[:8]}"
    client = session.client
    session.serve({name: _graph()}, lease_ttl=5)
    workers = client.workers()
    mine = [w for w in workers["workers"] if name in w["graphs"]]
    assert len(mine) == 1 and mine[0]["worker_id"] == session.worker.describe()["worker_id"], workers
    assert workers["graphs"][name] == [mine[0]["worker_id"]]
    assert "chat" in workers["graphs"]  # the server's own worker, with the demo graphs
    status = session.status()._repr_html_()
    assert f"worker {mine[0]['worker_id']}" in status and name in status, status
    [assistant] = client.assistants.search(graph_id=name)
    assert _api(api_server, "GET", f"assistants/{assistant.assistant_id}")["served"] is True

    session.stop_serving()  # the graph stays registered; nobody serves it
    assert name not in client.workers()["graphs"]
    found = _api(api_server, "POST", "assistants/search", {"graph_id": name})
    assert [a["served"] for a in found] == [False], found
    assert [a.served for a in client.assistants.search(graph_id=name)] == [False]
    assert _api(api_server, "GET", f"assistants/{assistant.assistant_id}")["served"] is False
    served = _api(api_server, "POST", "assistants/search", {"graph_id": "chat"})
    assert served and all(a["served"] for a in served), served

    handle = session.run(name, input={"n": 1})
    time.sleep(0.5)
    run = handle.refresh()
    assert run.status == "pending"
    assert run.waiting_for is not None and run.waiting_for["reason"] == "no_worker", run
    assert run.waiting_for["graph_id"] == name
    assert f"no worker is serving graph {name!r}" in run.waiting_for["message"]
    assert "%duragraph serve" in run.waiting_for["message"]
    assert "no worker is serving graph" in repr(handle) and "no worker is serving graph" in handle._html()
    raw = _api(api_server, "GET", f"threads/{handle.thread_id}/runs/{handle.run_id}")
    assert raw["waiting_for"]["reason"] == "no_worker"
    listed = _api(api_server, "GET", f"threads/{handle.thread_id}/runs")
    assert [r["waiting_for"]["reason"] for r in listed] == ["no_worker"]
    searched = _api(api_server, "POST", "runs/search", {"thread_id": handle.thread_id})
    assert [r["waiting_for"]["reason"] for r in searched] == ["no_worker"]

    session.serve({name: _graph()}, lease_ttl=5)
    assert _status(client, handle.run_id, "success") == "success"
    assert handle.refresh().waiting_for is None
    assert handle.values["n"] == 2
    # A run of a served graph never says it waits for a worker.
    done = client.runs.wait(None, "chat", input={"messages": [{"role": "user", "content": "hi"}]})
    assert done.run_id is not None and client.runs.get(done.run_id).waiting_for is None
