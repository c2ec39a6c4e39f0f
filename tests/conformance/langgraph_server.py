"""A `duragraph-lab serve` whose in-process worker serves LangGraph graphs (tests.lg_graphs), for
the SDK tests of LangGraph runs and threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.devserver import DevServer
from tests.fault.workers import ROOT

#: What the conformance package's LangGraph server (``lg_server`` in conftest.py) serves: the
#: graphs of every test_sdk_langgraph_* module that needs the graph's code in the API server.
LANGGRAPH_GRAPHS = [
    f"tests.lg_graphs:{name}"
    for name in (
        *("map_reduce", "agent", "napping", "chat", "nested", "chat_nested", "flaky", "flaky_nested"),
        *("asking", "calling", "calling_nested", "caching", "caching_nested", "forked", "deep_agent"),
        *("deep_agent_hitl",),
    )
]


@contextmanager
def serving(data_dir: Path, graphs: list[str]) -> Iterator[DevServer]:
    """The server, once its worker serves every one of ``graphs``; killed on leaving."""
    dev = DevServer(
        data_dir,
        command="serve",
        extra=[f"--DuraGraphApp.graphs={ref}" for ref in graphs],
        env={"PYTHONPATH": str(ROOT)},
    )
    try:
        dev.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, health = dev.api("health", token=dev.token)
            if status == 200 and len((health.get("worker") or {}).get("graphs", [])) == len(graphs):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the worker did not start:\n{dev.output()[-3000:]}")
        yield dev
    finally:
        dev.kill()


def url(server: DevServer) -> str:
    return f"http://127.0.0.1:{server.port}/duragraph/api/v1"


def headers(server: DevServer) -> dict[str, str]:
    return {"Authorization": f"token {server.token}"}
