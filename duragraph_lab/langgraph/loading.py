"""Importing what a ``langgraph.json`` entry names, as LangGraph Platform does.

``"./path/file.py:attr"`` is executed as a module of its own (named after its path, so two
graphs in one file share it; imports inside it resolve against ``sys.path``, which holds the
project's directory and local dependencies); ``"package.module:attr"`` is imported. The
attribute may be a compiled graph, an uncompiled ``StateGraph`` (compiled once here), a graph
factory (:mod:`.sources`), or a native DuraGraph ``CompiledGraph`` (served by the native engine).
Each failure is a one-line :class:`~duragraph_lab.langgraph.project.ProjectError`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from duragraph_lab.extras import require
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph as NativeStateGraph
from duragraph_lab.langgraph.project import GraphEntry, ProjectError
from duragraph_lab.langgraph.source import GraphSource


def load_entry(entry: GraphEntry, root: Path) -> GraphSource | CompiledGraph:
    """The source of one ``graphs`` entry of the project in ``root``."""
    require("langgraph", "langgraph", f"graph {entry.graph_id!r} of a langgraph.json")
    at = f"graph {entry.graph_id!r} ({entry.reference})"
    module = _import_file(entry, root, at) if entry.is_file else _import_module(entry.target, at)
    value = _attribute(module, entry.attribute, at)
    return as_source(entry.graph_id, value, entry.description, at)


def as_source(graph_id: str, value: Any, description: str | None, at: str) -> GraphSource | CompiledGraph:
    """``value`` (what a reference named) as something a worker serves, or a ProjectError."""
    from duragraph_lab.langgraph.sources import CompiledSource, FactoryError, FactorySource, is_graph

    if isinstance(value, CompiledGraph):
        if value.name != graph_id:
            raise ProjectError(
                f"{at}: a DuraGraph graph is served under its own name; compile it with "
                f"name={graph_id!r} (it is {value.name!r})"
            )
        return value
    if isinstance(value, NativeStateGraph):
        raise ProjectError(f"{at} is a DuraGraph StateGraph: name the result of .compile(name={graph_id!r})")
    if is_graph(value):
        # An uncompiled StateGraph is compiled once, as LangGraph Platform does at load time.
        compiled = value.compile() if hasattr(value, "compile") and not hasattr(value, "get_graph") else value
        return CompiledSource(graph_id, compiled, description)
    if callable(value):
        try:
            return FactorySource(graph_id, value, description)
        except FactoryError as err:
            raise ProjectError(f"{at}: {err}") from None
    raise ProjectError(f"{at} is a {type(value).__name__}: expected a compiled graph or a graph factory")


_JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx")


def _import_file(entry: GraphEntry, root: Path, at: str) -> ModuleType:
    if entry.target.endswith(_JS_SUFFIXES):
        raise ProjectError(f"{at}: JavaScript/TypeScript graphs are not supported (Python graphs only)")
    file = (root / entry.target).resolve()
    if not file.is_file():
        raise ProjectError(f"{at}: {file} does not exist")
    relative = file.relative_to(root) if file.is_relative_to(root) else file
    # A flat name derived from the path (like LangGraph's): the same in every process serving the
    # project, so what LangGraph's serde records of a class defined there (module, name) resolves.
    name = "__".join(relative.with_suffix("").parts)
    name = "duragraph_project__" + "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(file):
        return loaded
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ProjectError(f"{at}: {file} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:
        sys.modules.pop(name, None)
        raise ProjectError(f"{at}: importing {file.name} failed: {_describe(err)}") from None
    return module


def _import_module(name: str, at: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name or name.startswith(f"{err.name}."):
            raise ProjectError(
                f"{at}: no module {err.name!r} (is the project's directory or package among its "
                "dependencies?)"
            ) from None
        raise ProjectError(f"{at}: importing {name} failed: {_describe(err)}") from None
    except BaseException as err:
        raise ProjectError(f"{at}: importing {name} failed: {_describe(err)}") from None


def _attribute(module: ModuleType, attribute: str, at: str) -> Any:
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            where = getattr(module, "__file__", None) or module.__name__
            raise ProjectError(f"{at}: {Path(where).name} has no attribute {attribute!r}")
        value = getattr(value, part)
    return value


def _describe(err: BaseException) -> str:
    """An import failure in one line: a missing package is named, with what installs it."""
    if isinstance(err, ModuleNotFoundError) and err.name:
        return f"no module named {err.name!r} (pip install it, or add it to the project's dependencies)"
    if isinstance(err, SyntaxError):
        return f"SyntaxError at line {err.lineno}: {err.msg}"
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
