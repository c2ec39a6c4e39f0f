"""A LangGraph project directory served as a user would: ``duragraph-lab serve --config
langgraph.json`` (and ``duragraph-lab worker --config``) as processes, inspected with the official
``langgraph-sdk``: every graph registered with its default assistant, its description, its
topology drawn from the graph itself, its schemas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")
pytest.importorskip("langchain")

from langgraph_sdk import get_client, get_sync_client

from tests.devserver import DevServer, cli

REPO = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}

CHAIN = """
import os
from typing import Literal
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

from project_helpers import shout  # a local dependency: the project's directory is on the path

# The project's env file is applied before its graphs are imported.
GREETING = os.environ["PROJECT_GREETING"]


class State(TypedDict):
    text: str


def greet(state: State) -> dict:
    return {"text": shout(GREETING + " " + state["text"])}


def review(state: State) -> dict:
    return {"text": state["text"] + "?"}


def route(state: State) -> Literal["review", "__end__"]:
    return "review" if len(state["text"]) < 40 else END


inner = StateGraph(State)
inner.add_node("polish", review)
inner.add_edge(START, "polish")

builder = StateGraph(State)
builder.add_node("greet", greet)
builder.add_node("review", review)
builder.add_node("finish", inner.compile())
builder.add_edge(START, "greet")
builder.add_conditional_edges("greet", route)
builder.add_edge("review", "finish")
graph = builder.compile()
"""

AGENT = """
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool


class FakeModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


@tool
def add(a: int, b: int) -> int:
    \"\"\"Add two numbers.\"\"\"
    return a + b


model = FakeModel(messages=iter([AIMessage(content="", tool_calls=[
    {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1"}]), AIMessage(content="3")]))
agent = create_agent(model=model, tools=[add])
"""

FACTORY = """
from langchain_core.runnables import RunnableConfig
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START


class State(TypedDict):
    n: int


def make_graph(config: RunnableConfig):
    steps = int(config["configurable"].get("steps", 2))
    builder = StateGraph(State)
    previous = START
    for i in range(steps):
        builder.add_node(f"step_{i}", lambda s: {"n": s["n"] + 1})
        builder.add_edge(previous, f"step_{i}")
        previous = f"step_{i}"
    return builder.compile()
"""


def make_project(root: Path, graphs: dict[str, Any], files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, code in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(code))
    config = {
        "$schema": "https://langgra.ph/schema.json",
        "python_version": "3.12",
        "dependencies": ["."],
        "graphs": graphs,
        "env": ".env",
        "store": {"ttl": {"default_ttl": 60, "refresh_on_read": True}},
    }
    (root / "langgraph.json").write_text(json.dumps(config, indent=2))
    return root / "langgraph.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(
        tmp_path_factory.mktemp("lgproject") / "my-project",
        {
            "chain": "./src/chain.py:graph",
            "agent": {"path": "./src/agent.py:agent", "description": "Adds numbers with a tool."},
            "factory": "./src/factory.py:make_graph",
        },
        {
            "src/chain.py": CHAIN,
            "src/agent.py": AGENT,
            "src/factory.py": FACTORY,
            "project_helpers.py": "def shout(text):\n    return text.upper()\n",
            ".env": "PROJECT_GREETING=hello\n",
        },
    )


@pytest.fixture(scope="module")
def server(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    data_dir = tmp_path_factory.mktemp("lgserve") / "data"
    dev = DevServer(data_dir, command="serve", extra=["--config", str(project)], env=ENV)
    try:
        dev.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, health = dev.api("health", token=dev.token)
            if status == 200 and health.get("worker"):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the project's worker did not start:\n{dev.output()[-3000:]}")
        yield dev
    finally:
        dev.kill()


def base(server: DevServer) -> str:
    return f"http://127.0.0.1:{server.port}/duragraph/api/v1"


def headers(server: DevServer) -> dict[str, str]:
    return {"Authorization": f"token {server.token}"}


def test_serve_announces_the_project_and_serves_only_its_graphs(server: DevServer, project: Path) -> None:
    assert f"duragraph-lab: serving {project}: chain, agent, factory (ignored: $schema, python_version)" in (
        server.output()
    )
    _, health = server.api("health", token=server.token)
    assert sorted(health["worker"]["graphs"]) == ["agent", "chain", "factory"]  # no demo assistants
    # Its process settled its heap once the worker served (runtime/heap.py).
    deadline = time.monotonic() + 10
    while "DuraGraph Lab: heap settled (" not in server.output():
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.1)
    client = get_sync_client(url=base(server), headers=headers(server))
    found = client.assistants.search(limit=50)
    assert sorted(a["graph_id"] for a in found) == ["agent", "chain", "factory"]


async def test_default_assistants_and_topology_through_the_sdk(server: DevServer) -> None:
    client = get_client(url=base(server), headers=headers(server))
    (agent,) = await client.assistants.search(graph_id="agent")
    assert agent["name"] == "agent"
    assert agent["description"] == "Adds numbers with a tool."
    drawn = await client.assistants.get_graph(agent["assistant_id"])
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "model", "tools", "__end__"]
    edges = {(e["source"], e["target"]): e.get("conditional", False) for e in drawn["edges"]}
    assert edges == {
        ("__start__", "model"): False,
        ("model", "__end__"): True,
        ("model", "tools"): True,
        ("tools", "model"): True,
    }
    schemas = await client.assistants.get_schemas(agent["assistant_id"])
    assert "messages" in schemas["input_schema"]["properties"]

    (chain,) = await client.assistants.search(graph_id="chain")
    drawn = await client.assistants.get_graph(chain["assistant_id"])
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "greet", "review", "finish", "__end__"]
    assert {(e["source"], e["target"]) for e in drawn["edges"] if e.get("conditional")} == {
        ("greet", "review"),
        ("greet", "__end__"),
    }
    xray = await client.assistants.get_graph(chain["assistant_id"], xray=True)
    assert "finish:polish" in [n["id"] for n in xray["nodes"]]
    subgraphs = await client.assistants.get_subgraphs(chain["assistant_id"])
    assert list(subgraphs) == ["finish"]


async def test_a_factory_taking_the_config_is_drawn_as_built_for_reading(server: DevServer) -> None:
    client = get_client(url=base(server), headers=headers(server))
    (factory,) = await client.assistants.search(graph_id="factory")
    drawn = await client.assistants.get_graph(factory["assistant_id"])
    # Built with an empty config at registration: the factory's default of two steps.
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "step_0", "step_1", "__end__"]


async def test_the_projects_graphs_run(server: DevServer) -> None:
    """Runs of each graph, executed by LangGraph's runtime in the server's worker: the env file
    and the local dependency at work, the subgraph, the factory called with the run's config."""
    client = get_client(url=base(server), headers=headers(server))
    thread = await client.threads.create()
    chain = await client.runs.wait(thread["thread_id"], "chain", input={"text": "x"})
    assert chain == {"text": "HELLO X??"}  # greet (env + helper), review, the subgraph's polish
    thread = await client.threads.create()
    factory = await client.runs.wait(
        thread["thread_id"], "factory", input={"n": 0}, config={"configurable": {"steps": 3}}
    )
    assert factory == {"n": 3}  # built for this run, with its config: three steps, not two
    thread = await client.threads.create()
    agent = await client.runs.wait(
        thread["thread_id"], "agent", input={"messages": [{"role": "user", "content": "1 + 2?"}]}
    )
    assert isinstance(agent, dict)
    assert [m["type"] for m in agent["messages"]] == ["human", "ai", "tool", "ai"]
    assert agent["messages"][2]["content"] == "3" and agent["messages"][3]["content"] == "3"


def test_a_worker_serves_another_project(server: DevServer, tmp_path: Path) -> None:
    other = make_project(
        tmp_path / "other",
        {"worker_chain": "./chain.py:graph"},
        {
            "chain.py": CHAIN,
            "project_helpers.py": "def shout(t):\n    return t\n",
            ".env": "PROJECT_GREETING=hi\n",
        },
    )
    proc = subprocess.Popen(
        [*cli(), "worker", "--config", str(other), "--data-dir", str(server.data_dir)],
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = get_sync_client(url=base(server), headers=headers(server))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not client.assistants.search(graph_id="worker_chain"):
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        (assistant,) = client.assistants.search(graph_id="worker_chain")
        nodes = client.assistants.get_graph(assistant["assistant_id"])["nodes"]
        assert [n["id"] for n in nodes] == ["__start__", "greet", "review", "finish", "__end__"]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "serving worker_chain" in output
    # The worker process settled its heap once serving (runtime/heap.py).
    assert "duragraph-lab worker: heap settled (" in output, output


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_without_the_langgraph_extra_one_line_says_what_to_install(
    project: Path, tmp_path: Path, command: str
) -> None:
    # As if langgraph were not installed: the import system then finds no such module.
    code = (
        "import sys; sys.modules['langgraph'] = None; from duragraph_lab.runtime.cli import main; "
        f"sys.exit(main([{command!r}, '--config', {str(project)!r}, '--data-dir', {str(tmp_path)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **ENV}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"duragraph-lab: error: duragraph-lab {command} with {project} needs langgraph, which this install "
        "lacks: pip install 'duragraph-lab[langgraph]'"
    ]
    assert not (tmp_path / "postgres").exists()  # nothing was started


def test_a_factory_that_cannot_build_is_reported_by_health(tmp_path: Path) -> None:
    code = "def make_graph(config):\n    raise RuntimeError('set MODEL_KEY first')\n"
    broken = make_project(tmp_path / "broken", {"g": "./graph.py:make_graph"}, {"graph.py": code, ".env": ""})
    dev = DevServer(tmp_path / "data", command="serve", extra=["--config", str(broken)], env=ENV)
    try:
        dev.start()
        expected = "graph 'g': building it to draw it failed: RuntimeError: set MODEL_KEY first"
        deadline = time.monotonic() + 30
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            _, health = dev.api("health", token=dev.token)
            if health.get("error"):
                break
            time.sleep(0.1)
        assert health["error"] == expected
        assert f"duragraph-lab: error: DuraGraph Lab: {expected}" in dev.output()
    finally:
        dev.kill()


def test_a_broken_project_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    broken = make_project(
        tmp_path / "broken",
        {"g": "./graph.py:graph"},
        {"graph.py": "import not_installed_pkg_xyz\n", ".env": ""},
    )
    done = subprocess.run(
        [*cli(), "serve", "--config", str(broken), "--data-dir", str(tmp_path / "data")],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "duragraph-lab: error: graph 'g' (./graph.py:graph): importing graph.py failed: no module named "
        "'not_installed_pkg_xyz' (pip install it, or add it to the project's dependencies)"
    ]
    assert not (tmp_path / "data").exists()


async def test_a_notebook_serves_a_langgraph_graph(server: DevServer) -> None:
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    from duragraph_lab.notebook.magics import MagicError, _assistant, _graphs
    from duragraph_lab.notebook.session import Session

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("bump", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "bump")
    notebook_graph = builder.compile()

    class Shell:  # what the magics read of IPython: the user's namespace
        user_ns = {"notebook_graph": notebook_graph, "not_a_graph": 3}

    # %duragraph serve notebook_graph: accepted, and served under the variable's name.
    assert _graphs(Shell(), ["notebook_graph"]) == {"notebook_graph": notebook_graph}
    assert _assistant(Shell(), "notebook_graph") == "notebook_graph"
    with pytest.raises(MagicError, match=r"not_a_graph is a int, not a StateGraph or compiled graph"):
        _graphs(Shell(), ["not_a_graph"])
    session = Session()
    session.connect(f"http://127.0.0.1:{server.port}/", server.token)
    try:
        served = await session.serve_async({"notebook_graph": notebook_graph})
        assert list(served.graphs) == ["notebook_graph"]
        client = get_client(url=base(server), headers=headers(server))
        (assistant,) = await client.assistants.search(graph_id="notebook_graph")
        drawn = await client.assistants.get_graph(assistant["assistant_id"])
        assert [n["id"] for n in drawn["nodes"]] == ["__start__", "bump", "__end__"]
        assert "LangGraph" in repr(session.worker.describe()["versions"])
    finally:
        session.stop_serving()
        session.client.close()


def test_the_project_in_the_current_directory_is_found(project: Path, tmp_path: Path) -> None:
    """``duragraph-lab worker`` (and dev/serve) without --config use ./langgraph.json."""
    env = {**os.environ, **ENV}
    for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        env.pop(name, None)
    args = [*cli(), "worker", "--data-dir", str(tmp_path / "none")]
    found = subprocess.run(args, cwd=project.parent, env=env, capture_output=True, text=True, timeout=60)
    # The project was loaded (its graphs imported); then no services were found to serve them on.
    assert found.returncode == 1, found.stderr
    assert "no running `duragraph-lab dev` found" in found.stderr
    (tmp_path / "langgraph.json").write_text('{"graphs": {"g": "./missing.py:graph"}}')
    broken = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines() == [
        f"duragraph-lab: error: graph 'g' (./missing.py:graph): {tmp_path / 'missing.py'} does not exist"
    ]
    (tmp_path / "langgraph.json").unlink()
    nothing = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == (
        "duragraph-lab worker: error: name the graphs to serve (MODULE:ATTR) or a langgraph.json "
        "(--config PATH); there is no langgraph.json here"
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_graph_id_in_the_project_and_on_the_command_line_is_one_line(tmp_path: Path, command: str) -> None:
    """The project's ``chat`` and the demo's ``chat`` (a native graph of that name): which one
    was meant is the user's call, said in one line naming both, before anything starts."""
    config = make_project(
        tmp_path / "clash", {"chat": "./src/factory.py:make_graph"}, {"src/factory.py": FACTORY, ".env": ""}
    )
    ref = "duragraph_lab.demo.chat:graph"
    named = f"--DuraGraphApp.graphs={ref}" if command == "serve" else ref
    env = {**os.environ, **ENV}
    for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [*cli(), command, "--config", str(config), "--data-dir", str(tmp_path / "data"), named],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    where = f"--DuraGraphApp.graphs ({ref})" if command == "serve" else f"the worker's arguments ({ref})"
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1:] == [
        f"duragraph-lab: error: graph id 'chat' is defined twice: in {config} (graphs.chat) and in "
        f"{where}; rename one of them or serve it once"
    ]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was started
