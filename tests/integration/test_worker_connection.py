"""GET /worker/connection: a kernel that knows only the server's URL and token serves graphs
(no environment variables, no readable runtime.json: as on another machine or user), and a
server configured not to share its services says so, in the API and in ``serve``'s message."""

from __future__ import annotations

import asyncio
import operator
import os
import subprocess
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
import psycopg
import pytest

from duragraph_lab.bus import connect_nats
from duragraph_lab.graph import END, START, StateGraph
from duragraph_lab.notebook import kernel_worker
from duragraph_lab.notebook.kernel_worker import ServeError
from duragraph_lab.notebook.session import Session
from tests.apiserver import ApiServer
from tests.devserver import cli

REPO = Path(__file__).resolve().parents[2]


class Count(TypedDict):
    trail: Annotated[list[str], operator.add]


def _graph() -> StateGraph:
    g = StateGraph(Count)
    g.add_node("one", lambda s: {"trail": ["one"]})
    g.add_node("two", lambda s: {"trail": ["two"]})
    g.add_edge(START, "one")
    g.add_edge("one", "two")
    g.add_edge("two", END)
    return g


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process cannot read the server's runtime.json and has no URLs in its environment."""
    for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kernel_worker, "read_runtime_info", lambda data_dir: None)


async def test_the_route_hands_over_working_urls(api_server: ApiServer) -> None:
    async with httpx.AsyncClient(headers=api_server.headers) as http:
        got = await http.get(f"{api_server.base}/worker/connection")
        assert got.status_code == 200, got.text
        body = got.json()
        assert got.headers["Cache-Control"] == "no-store"
    async with httpx.AsyncClient() as http:  # (the first client holds Jupyter's login cookie now)
        anonymous = await http.get(f"{api_server.base}/worker/connection")
    assert anonymous.status_code == 401 and "database_url" not in anonymous.text
    assert body["local_only"] is True  # the test server's services are embedded
    async with await psycopg.AsyncConnection.connect(body["database_url"]) as conn:
        assert (await (await conn.execute("SELECT count(*) FROM duragraph.events")).fetchone()) is not None
    nc = await connect_nats(body["nats_url"], name="test")
    assert nc.is_connected
    await nc.close()


async def test_a_kernel_with_only_the_url_and_token_serves_a_graph(
    api_server: ApiServer, elsewhere: None
) -> None:
    session = Session()
    session.connect(f"http://127.0.0.1:{api_server.port}/", api_server.token)
    name = f"wc_{id(session)}"
    try:
        served = await session.serve_async({name: _graph()})
        assert session.worker.endpoints is not None
        assert session.worker.endpoints.source == "GET /worker/connection"
        assert name in repr(served)
        client = session.client
        thread = client.threads.create()
        run = client.runs.create(thread.thread_id, name, input={"trail": []})
        for _ in range(200):
            if client.runs.get(run.run_id, thread_id=thread.thread_id).status == "success":
                break
            time.sleep(0.05)  # noqa: ASYNC251 -- on purpose: the worker has a loop (and thread) of its own
        assert client.threads.state(thread.thread_id).values["trail"] == ["one", "two"]
    finally:
        session.stop_serving()
        session.client.close()


def test_a_server_that_does_not_share_says_so(tmp_path: Path, elsewhere: None) -> None:
    server = ApiServer(tmp_path / "data", extra=["--DuraGraphApp.share_worker_connection=False"])
    server.start()
    try:
        got = httpx.get(f"{server.base}/worker/connection", headers=server.headers)
        assert got.status_code == 403
        assert got.json()["error"] == "forbidden" and "share_worker_connection" in got.json()["message"]
        session = Session()
        session.connect(f"http://127.0.0.1:{server.port}/", server.token)

        async def serve() -> Any:
            return await session.serve_async({"g": _graph()})

        with pytest.raises(ServeError, match="does not share its database and NATS URLs"):
            asyncio.run(serve())
        session.client.close()
    finally:
        server.kill()


def _worker(argv: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [*cli(), "worker", "tests.api_graphs:custom", "--data-dir", str(tmp_path / "nothing"), *argv],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_process_with_only_the_server_url_and_token(api_server: ApiServer, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{api_server.port}/"
    bad = _worker(["--server", url, "--token", "wrong"], tmp_path)
    _, err = bad.communicate(timeout=60)
    assert (
        bad.returncode == 2 and "did not say where its services are" in err and "401 unauthorized" in err
    ), err

    proc = _worker(["--server", url, "--token", api_server.token, "--worker-id", "remote-1"], tmp_path)
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while ": serving" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
        assert "duragraph-lab worker remote-1: serving custom" in line, line
    finally:
        proc.terminate()
        proc.wait(timeout=30)
