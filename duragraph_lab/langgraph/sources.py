"""The two kinds of :class:`~duragraph_lab.langgraph.source.GraphSource`: a compiled LangGraph
graph, and a graph factory called per use, in every form LangGraph Platform accepts.

A factory is a function or an async function, or one decorated with ``contextlib.contextmanager``
/ ``asynccontextmanager`` (more generally: whatever it returns may be a graph, a coroutine, a
context manager or an async context manager, which is awaited or entered and left around the
use). It takes nothing, the config, a server runtime, or the config and a server runtime:

- no parameter: called as it is;
- one parameter: the server runtime if annotated ``ServerRuntime`` (``langgraph_sdk.runtime``,
  also ``ServerRuntime[Ctx]``, a string annotation of it, or a concrete runtime class), else the
  config;
- two parameters: one annotated ``ServerRuntime`` gets the runtime, the other the config, both by
  keyword; two parameters neither (or both) of which is a runtime is refused at load time, and so
  is a factory with more than two parameters —

LangGraph API's rules (``langgraph_api._factory_utils``). The server runtime is
``langgraph_sdk.runtime``'s: ``access_context``, ``user`` (None: no custom auth), ``store``, and
for ``threads.create_run`` (``.execution_runtime``) the run's ``context``. What the factory
returns may be a ``StateGraph`` (compiled here) or any ``Pregel``; the graph used is a copy with
DuraGraph's checkpointer and store, named after the graph id when it has LangGraph's default name.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import typing
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, get_args, get_origin

from duragraph_lab.langgraph.source import Access

_DEFAULT_NAME = "LangGraph"


class FactoryError(TypeError):
    """A graph factory's signature, or what it returned, is not one LangGraph Platform accepts."""


class CompiledSource:
    """A compiled graph (a ``Pregel``): the same object for every use, copied with our
    checkpointer and store."""

    def __init__(self, graph_id: str, graph: Any, description: str | None = None) -> None:
        self.graph_id = graph_id
        self.description = description
        self.graph = graph

    def build(
        self,
        config: dict[str, Any],
        *,
        access: Access,
        checkpointer: Any | None,
        store: Any | None,
        context: dict[str, Any] | None = None,
    ) -> AbstractAsyncContextManager[Any]:
        return _yield(prepare(self.graph, self.graph_id, checkpointer, store))

    def __repr__(self) -> str:
        return f"<CompiledSource {self.graph_id!r}: {type(self.graph).__name__}>"


class FactorySource:
    """A graph factory, called (and entered and left, when it is a context manager) per use."""

    def __init__(self, graph_id: str, factory: Callable[..., Any], description: str | None = None) -> None:
        self.graph_id = graph_id
        self.description = description
        self.factory = factory
        #: Which argument goes to which parameter (checked now: a bad signature fails at load).
        self.arguments = classify_factory(factory)

    def build(
        self,
        config: dict[str, Any],
        *,
        access: Access,
        checkpointer: Any | None,
        store: Any | None,
        context: dict[str, Any] | None = None,
    ) -> AbstractAsyncContextManager[Any]:
        return self._build(config, access, checkpointer, store, context)

    @contextlib.asynccontextmanager
    async def _build(
        self,
        config: dict[str, Any],
        access: Access,
        checkpointer: Any | None,
        store: Any | None,
        context: dict[str, Any] | None,
    ) -> AsyncIterator[Any]:
        config = {**config, "configurable": dict(config.get("configurable") or {})}
        kwargs = {
            name: config if role == "config" else server_runtime(access, store, context)
            for name, role in self.arguments.items()
        }
        made = self.factory(**kwargs)
        async with _entered(made) as graph:
            yield prepare(graph, self.graph_id, checkpointer, store, made_by=self.factory)

    def __repr__(self) -> str:
        return f"<FactorySource {self.graph_id!r}: {getattr(self.factory, '__qualname__', self.factory)!r}>"


def is_graph(value: Any) -> bool:
    """A LangGraph graph object (a ``Pregel`` or an uncompiled ``StateGraph``)."""
    pregel, state_graph = _graph_types()
    return isinstance(value, (pregel, state_graph))


def maybe_graph(value: Any) -> bool:
    """:func:`is_graph`, without importing langgraph when nothing has (then it cannot be one)."""
    import sys

    return "langgraph" in sys.modules and is_graph(value)


def served_source(name: str, value: Any) -> CompiledSource:
    """A LangGraph graph given by a variable (a notebook's, a ``module:attr``): served under its
    own name, or ``name`` when it has LangGraph's default one; a ``StateGraph`` compiled now."""
    _, state_graph = _graph_types()
    graph = value.compile() if isinstance(value, state_graph) else value
    own = getattr(graph, "name", None)
    graph_id = own if isinstance(own, str) and own and own != _DEFAULT_NAME else name
    return CompiledSource(graph_id, graph)


def prepare(value: Any, graph_id: str, checkpointer: Any, store: Any, made_by: Any = None) -> Any:
    """``value`` compiled if needed, as a copy with ``checkpointer`` and ``store`` (which replace
    its own, as on LangGraph Platform), named ``graph_id`` if it has LangGraph's default name."""
    pregel, state_graph = _graph_types()
    graph: Any = value.compile() if isinstance(value, state_graph) else value
    if not isinstance(graph, pregel):
        source = f" (returned by {getattr(made_by, '__qualname__', made_by)})" if made_by is not None else ""
        raise FactoryError(
            f"graph {graph_id!r}: expected a compiled LangGraph graph{source}, got {type(graph).__name__}"
        )
    update: dict[str, Any] = {"checkpointer": checkpointer, "store": store}
    if graph.name == _DEFAULT_NAME:
        update["name"] = graph_id
    return _copy(graph, update)


#: Graphs whose copy passed LangGraph's validation once, by id (kept only while they live).
_VALIDATED: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def _copy(graph: Any, update: dict[str, Any]) -> Any:
    """``graph.copy(update=update)``, which builds and validates the graph again (its nodes,
    channels and triggers: ~3 % of a worker's CPU in runs of 20 steps), the first time only: a
    graph served run after run differs from the copy already validated by its checkpointer and
    store alone, so later copies are shallow ones with those set (``Pregel.copy`` shares the
    nodes and channels too)."""
    if _VALIDATED.get(id(graph)) is graph:
        clone = copy.copy(graph)
        for name, value in update.items():
            setattr(clone, name, value)
        return clone
    made = graph.copy(update=update)
    with contextlib.suppress(TypeError):  # a graph that cannot be referenced weakly: copied each time
        _VALIDATED[id(graph)] = graph
    return made


def classify_factory(factory: Callable[..., Any]) -> dict[str, str]:
    """Parameter name → ``"config"`` or ``"runtime"`` (see the module's docstring)."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError) as err:
        raise FactoryError(f"cannot read the signature of graph factory {factory!r}: {err}") from None
    name = getattr(factory, "__qualname__", repr(factory))
    hints = _hints(factory)
    runtime = [p.name for p in params if _is_runtime(hints.get(p.name, p.annotation))]
    if not params:
        return {}
    if len(params) == 1:
        return {params[0].name: "runtime" if runtime else "config"}
    if len(params) == 2:
        if len(runtime) != 1:
            raise FactoryError(
                f"graph factory {name} takes two parameters ({', '.join(p.name for p in params)}): "
                "one must be annotated ServerRuntime (langgraph_sdk.runtime) and the other is the config"
            )
        return {p.name: "runtime" if p.name in runtime else "config" for p in params}
    raise FactoryError(
        f"graph factory {name} must take 0, 1 or 2 parameters (the config and/or a ServerRuntime), "
        f"not {len(params)}: {', '.join(p.name for p in params)}"
    )


def server_runtime(access: Access, store: Any, context: Mapping[str, Any] | None) -> Any:
    """The server runtime a factory gets, as LangGraph API builds it (no custom auth: no user)."""
    execution, read = _runtime_types()
    if access == "threads.create_run":
        return execution(
            access_context=access,
            user=None,
            store=store,
            context=copy.copy(context) if context is not None else None,
        )
    return read(access_context=access, user=None, store=store)


@contextlib.asynccontextmanager
async def _yield(value: Any) -> AsyncIterator[Any]:
    yield value


@contextlib.asynccontextmanager
async def _entered(value: Any) -> AsyncIterator[Any]:
    """What a factory returned, as the graph: entered and left if it is a context manager,
    awaited if it is a coroutine."""
    if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
        async with value as result:
            yield result
    elif hasattr(value, "__enter__") and hasattr(value, "__exit__"):
        with value as result:
            yield result
    elif asyncio.iscoroutine(value):
        yield await value
    else:
        yield value


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """Annotations resolved (string ones too, with ``ServerRuntime`` and ``RunnableConfig`` known
    even when imported only under ``TYPE_CHECKING``); {} when they cannot be."""
    names: dict[str, Any] = {}
    with contextlib.suppress(ImportError):
        from langgraph_sdk.runtime import ServerRuntime

        names["ServerRuntime"] = ServerRuntime
    with contextlib.suppress(ImportError):
        from langchain_core.runnables import RunnableConfig

        names["RunnableConfig"] = RunnableConfig
    target = factory if inspect.isfunction(factory) or inspect.ismethod(factory) else type(factory).__call__
    try:
        return typing.get_type_hints(target, localns=names)
    except Exception:
        return {}


def _is_runtime(annotation: Any) -> bool:
    if annotation is inspect.Parameter.empty:
        return False
    try:
        from langgraph_sdk.runtime import ServerRuntime
    except ImportError:  # an SDK without server runtimes: no factory can ask for one
        return False
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, str):
        return annotation.split("[", 1)[0].strip().rsplit(".", 1)[-1] == "ServerRuntime"
    if isinstance(annotation, type):
        return issubclass(annotation, _runtime_types())
    origin = get_origin(annotation)
    if origin is ServerRuntime:
        return True
    args = get_args(annotation)
    return origin is not None and bool(args) and _is_runtime(args[0])


def _runtime_types() -> tuple[type, type]:
    try:
        from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime
    except ImportError:  # pragma: no cover - langgraph brings an SDK that has them
        return _FallbackExecutionRuntime, _FallbackReadRuntime
    return _ExecutionRuntime, _ReadRuntime


def _graph_types() -> tuple[Any, Any]:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return Pregel, StateGraph


class _FallbackReadRuntime:
    """A stand-in with the server runtime's fields, for an SDK that lacks ``langgraph_sdk.runtime``."""

    def __init__(self, *, access_context: Access, user: Any, store: Any, context: Any = None) -> None:
        self.access_context = access_context
        self.user = user
        self.store = store
        self.context = context

    @property
    def execution_runtime(self) -> Any:
        return self if isinstance(self, _FallbackExecutionRuntime) else None


class _FallbackExecutionRuntime(_FallbackReadRuntime):
    pass
