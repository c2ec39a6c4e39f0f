"""Graph sources in every form LangGraph Platform accepts, loaded from real project files."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.langgraph.project import ProjectError, load_project
from duragraph_lab.langgraph.sources import (
    CompiledSource,
    FactoryError,
    FactorySource,
    classify_factory,
)

GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START

class State(TypedDict):
    x: int

def step(state):
    return {"x": state["x"] + 1}

builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
graph = builder.compile()
"""


def project(tmp_path: Path, graphs: dict[str, Any], code: str, **config: Any) -> dict[str, Any]:
    (tmp_path / "agent.py").write_text(textwrap.dedent(GRAPH + code))
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graphs": graphs, **config}))
    loaded = load_project(path)
    loaded.activate()
    return dict(loaded.sources())


def build(source: Any, access: str = "threads.create_run", **kwargs: Any) -> tuple[Any, Any, Any]:
    """Build through the source; (graph, its result for x=1, checkpointer and store given)."""
    saver, store = InMemorySaver(), InMemoryStore()

    async def go() -> Any:
        async with source.build(
            {"configurable": {"thread_id": "t", "who": "cfg"}},
            access=access,
            checkpointer=saver,
            store=store,
            **kwargs,
        ) as graph:
            assert graph.checkpointer is saver and graph.store is store
            return graph, await graph.ainvoke({"x": 1}, {"configurable": {"thread_id": "t"}})

    graph, result = asyncio.run(go())
    return graph, result, (saver, store)


def calls_of(source: Any) -> list[Any]:
    """The CALLS list of the module that defines the factory."""
    return sys.modules[source.factory.__module__].CALLS  # type: ignore[no-any-return]


FACTORIES = """
import contextlib
from typing import TYPE_CHECKING
from langchain_core.runnables import RunnableConfig
from langgraph_sdk.runtime import ServerRuntime

CALLS = []

def no_args():
    CALLS.append(("no_args",))
    return graph

def with_config(config):
    CALLS.append(("with_config", config["configurable"]["who"]))
    return graph

def with_runtime(runtime: ServerRuntime):
    CALLS.append(("with_runtime", runtime.access_context, runtime.execution_runtime is not None,
                  getattr(runtime, "context", None)))
    return graph

def runtime_then_config(rt: ServerRuntime, cfg: RunnableConfig):
    CALLS.append(("runtime_then_config", rt.access_context, cfg["configurable"]["who"]))
    return graph

async def async_factory(config: RunnableConfig):
    CALLS.append(("async_factory",))
    return builder  # an uncompiled StateGraph: compiled per use

@contextlib.contextmanager
def sync_cm(config):
    CALLS.append(("enter sync",))
    yield graph
    CALLS.append(("exit sync",))

@contextlib.asynccontextmanager
async def async_cm(runtime: "ServerRuntime", config):
    CALLS.append(("enter async", runtime.access_context))
    yield graph
    CALLS.append(("exit async",))
"""


@pytest.mark.parametrize(
    ("attr", "calls"),
    [
        ("no_args", [("no_args",)]),
        ("with_config", [("with_config", "cfg")]),
        ("with_runtime", [("with_runtime", "threads.create_run", True, {"user": "u1"})]),
        ("runtime_then_config", [("runtime_then_config", "threads.create_run", "cfg")]),
        ("async_factory", [("async_factory",)]),
        ("sync_cm", [("enter sync",), ("exit sync",)]),
        ("async_cm", [("enter async", "threads.create_run"), ("exit async",)]),
    ],
)
def test_every_factory_form_is_called_per_use(tmp_path: Path, attr: str, calls: list[Any]) -> None:
    sources = project(tmp_path, {"g": f"./agent.py:{attr}"}, FACTORIES)
    source = sources["g"]
    assert isinstance(source, FactorySource)
    recorded = calls_of(source)
    recorded.clear()
    graph, result, _ = build(source, context={"user": "u1"})
    assert result == {"x": 2}
    assert graph.name == "g"  # LangGraph's default name becomes the graph id
    assert recorded == calls
    build(source, context={"user": "u1"})
    assert recorded == calls * 2  # called again: per use


def test_a_read_gets_a_read_runtime_without_context(tmp_path: Path) -> None:
    source = project(tmp_path, {"g": "./agent.py:with_runtime"}, FACTORIES)["g"]
    calls = calls_of(source)
    calls.clear()
    build(source, access="assistants.read", context={"user": "u1"})
    assert calls == [("with_runtime", "assistants.read", False, None)]


def test_a_compiled_graph_and_a_state_graph(tmp_path: Path) -> None:
    sources = project(tmp_path, {"compiled": "./agent.py:graph", "builder": "./agent.py:builder"}, "")
    for graph_id, source in sources.items():
        assert isinstance(source, CompiledSource)
        graph, result, _ = build(source)
        assert result == {"x": 2}
        assert graph.name == graph_id
    # Two graph ids in one file share the module: it is executed once.
    compiled, builder = sources["compiled"], sources["builder"]
    assert isinstance(compiled, CompiledSource) and isinstance(builder, CompiledSource)
    assert builder.graph.builder is compiled.graph.builder


def test_a_named_graph_keeps_its_name(tmp_path: Path) -> None:
    sources = project(tmp_path, {"g": "./agent.py:named"}, "named = builder.compile(name='mine')\n")
    graph, _, _ = build(sources["g"])
    assert graph.name == "mine"


def test_a_native_graph_in_a_project_is_served_natively(tmp_path: Path) -> None:
    code = """
from duragraph_lab import StateGraph as NativeGraph
native_builder = NativeGraph(State)
native_builder.add_node("step", step)
native_builder.add_edge(START, "step")
native_builder.add_edge("step", "__end__")
native = native_builder.compile(name="native")
"""
    sources = project(tmp_path, {"native": "./agent.py:native"}, code)
    assert isinstance(sources["native"], CompiledGraph)
    with pytest.raises(ProjectError, match=r"compile it with name='other'"):
        project(tmp_path, {"other": "./agent.py:native"}, code)


@pytest.mark.parametrize(
    ("reference", "code", "message"),
    [
        ("./nope.py:graph", "", r"graph 'g' \(./nope.py:graph\): .*nope.py does not exist"),
        ("./src/agent.ts:graph", "", r"JavaScript/TypeScript graphs are not supported"),
        ("./agent.py:nope", "", r"graph 'g' \(./agent.py:nope\): agent.py has no attribute 'nope'"),
        ("./agent.py:number", "number = 3\n", r"is a int: expected a compiled graph or a graph factory"),
        (
            "./agent.py:graph",
            "import not_a_module_xyz\n",
            r"importing agent.py failed: no module named 'not_a_module_xyz' \(pip install it",
        ),
        ("./agent.py:graph", "def broken(:\n", r"importing agent.py failed: SyntaxError at line \d+"),
        ("./agent.py:graph", "raise RuntimeError('boom\\nmore')\n", r"failed: RuntimeError: boom$"),
        ("no_such_pkg_xyz.mod:graph", "", r"no module 'no_such_pkg_xyz' \(is the project's directory"),
        (
            "./agent.py:three",
            "def three(a, b, c): pass\n",
            r"graph factory three must take 0, 1 or 2 parameters .*, not 3: a, b, c",
        ),
        (
            "./agent.py:two",
            "def two(a, b): pass\n",
            r"graph factory two takes two parameters \(a, b\): one must be annotated ServerRuntime",
        ),
    ],
)
def test_load_errors_are_one_precise_line(tmp_path: Path, reference: str, code: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message) as caught:
        project(tmp_path, {"g": reference}, code)
    assert "\n" not in str(caught.value)


def test_a_module_reference_resolves_against_local_dependencies(tmp_path: Path) -> None:
    package = tmp_path / "src" / "lg_project_pkg_t"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "graphs.py").write_text(GRAPH)
    sources = project(tmp_path, {"g": "lg_project_pkg_t.graphs:graph"}, "", dependencies=["./src"])
    _, result, _ = build(sources["g"])
    assert result == {"x": 2}


def test_a_factory_returning_something_else_fails_when_built(tmp_path: Path) -> None:
    source = project(tmp_path, {"g": "./agent.py:bad"}, "def bad():\n    return 42\n")["g"]
    with pytest.raises(
        FactoryError, match=r"graph 'g': expected a compiled LangGraph graph \(returned by bad\), got int"
    ):
        build(source)


def test_classification_follows_langgraph_api() -> None:
    from langgraph_sdk.runtime import ServerRuntime

    def one(config: Any) -> None: ...
    def rt(runtime: ServerRuntime) -> None: ...  # type: ignore[type-arg]
    def both(config: Any, runtime: ServerRuntime[dict[str, Any]]) -> None: ...  # type: ignore[type-arg]

    assert classify_factory(lambda: None) == {}
    assert classify_factory(one) == {"config": "config"}
    assert classify_factory(rt) == {"runtime": "runtime"}
    assert classify_factory(both) == {"config": "config", "runtime": "runtime"}
    with pytest.raises(FactoryError):
        classify_factory(lambda a, b: None)


def test_a_worker_reference_may_name_a_langgraph_graph_or_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duragraph_lab.worker.serve import GraphLoadError, load_graph

    (tmp_path / "lg_ref_mod_t.py").write_text(
        textwrap.dedent(
            GRAPH
            + """
named = builder.compile(name="named_graph")

def factory(config):
    return graph

def no_args():
    return graph
"""
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = load_graph("lg_ref_mod_t:graph")
    assert isinstance(plain, CompiledSource) and plain.graph_id == "graph"
    assert load_graph("lg_ref_mod_t:named").graph_id == "named_graph"  # type: ignore[union-attr]
    assert load_graph("lg_ref_mod_t:builder").graph_id == "builder"  # type: ignore[union-attr]
    for name in ("factory", "no_args"):
        source = load_graph(f"lg_ref_mod_t:{name}")
        assert isinstance(source, FactorySource) and source.graph_id == name
    with pytest.raises(GraphLoadError, match=r"has no attribute 'nope'"):
        load_graph("lg_ref_mod_t:nope")


def test_a_graph_served_run_after_run_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run gets its own copy (its checkpointer, its store); LangGraph validates the graph
    for the first copy only, and the copies share nothing a run sets."""
    from langgraph.graph import START, StateGraph
    from langgraph.pregel.main import Pregel
    from typing_extensions import TypedDict

    from duragraph_lab.langgraph.sources import prepare

    class State(TypedDict):
        x: int

    builder: StateGraph[Any] = StateGraph(State)
    builder.add_node("step", lambda s: {"x": s["x"] + 1})
    builder.add_edge(START, "step")
    graph = builder.compile(name="g")
    validated: list[Any] = []
    real = Pregel.validate

    def counted(self: Any) -> Any:
        validated.append(self)
        return real(self)

    monkeypatch.setattr(Pregel, "validate", counted)
    savers, stores = [InMemorySaver(), InMemorySaver()], [InMemoryStore(), InMemoryStore()]
    copies = [prepare(graph, "g", saver, store) for saver, store in zip(savers, stores, strict=True)]
    assert len(validated) == 1
    assert [c.checkpointer for c in copies] == savers and [c.store for c in copies] == stores
    assert graph.checkpointer is None and graph.store is None
    config: Any = {"configurable": {"thread_id": "t"}}
    assert copies[1].invoke({"x": 1}, config) == {"x": 2}
    assert copies[0].get_state(config).values == {} and copies[1].get_state(config).values == {"x": 2}
