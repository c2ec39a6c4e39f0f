"""Dependencies point inward: domain <- graph <- engine <- control <- store/bus/worker <- api/notebook.

And the rules that keep the layers honest: SQL on our schema lives only in ``store/``; nothing
outside ``store/`` calls a private store method; ``api/`` reaches storage and the bus through the
control plane (only its composition root builds the adapters); the API server never loads the
HTTP client.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "duragraph_lab"
IO_LIBS = {
    "psycopg",
    "psycopg_pool",
    "nats",
    "tornado",
    "jupyter_server",
    "jupyterlab",
    "traitlets",
    "ipywidgets",
}
LAYERS = [
    "domain",
    "graph",
    "llm",
    "demo",
    "engine",
    "control",
    "store",
    "bus",
    "worker",
    "langgraph",
    "otel",
    "runtime",
    "client",
    "evals",
    "api",
    "notebook",
]
# Which of our own subpackages each layer may import.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "graph": {"domain"},
    # Model clients are used from node code: they know the node context, nothing below.
    "llm": {"domain", "graph"},
    "demo": {"domain", "graph", "llm"},
    "engine": {"domain", "graph"},
    # The control plane: application services over ports (no SQL, no NATS, no HTTP). It scores,
    # compares and exports experiments with the evals core.
    "control": {"domain", "graph", "engine", "evals"},
    # The adapters implement the control plane's ports (and use its records).
    "store": {"domain", "graph", "engine", "control"},
    "bus": {"domain", "graph", "engine", "control", "store"},
    # A worker registers its graphs through the control plane.
    "worker": {"domain", "graph", "engine", "control", "store", "bus", "runtime", "langgraph"},
    # The second engine: LangGraph's runtime on the event store (an adapter like store/ and bus/).
    "langgraph": {"domain", "graph", "engine", "control", "store", "bus"},
    # Wires processes together: the control plane on PostgreSQL and NATS is built here.
    "runtime": {"domain", "control", "store", "bus"},
    "client": {"domain"},
    # Evaluators are plain functions and the experiment loop runs over a port; the LLM judge uses
    # the model clients. Never the HTTP client: the server uses evals.
    "evals": {"domain", "llm"},
    # Traces computed from recorded events: the domain's envelopes, and the event log's port.
    "otel": {"domain", "control"},
    "api": {
        "domain",
        "graph",
        "engine",
        "control",
        "store",
        "bus",
        "worker",
        "runtime",
        "evals",
        "langgraph",
        "otel",
    },
    "notebook": {
        "domain",
        "graph",
        "engine",
        "control",
        "client",
        "runtime",
        "store",
        "bus",
        "worker",
        "evals",
        "langgraph",
    },
}
PURE = {"domain", "graph", "engine", "control", "evals"}
# The command line wires everything together, so it alone may import any layer.
COMPOSITION_ROOTS = {"runtime/cli.py"}
LAZY_UPWARD = {
    # CompiledGraph.invoke() runs the engine in-process (a notebook convenience). It imports the
    # engine inside the method, so the graph layer has no import-time dependency on it.
    ("graph/compiled.py", "engine"),
    # duragraph_lab.evals.run_experiment (the documented name) is the notebook's runner over the
    # HTTP client, imported on first use only (test_the_server_does_not_import_the_http_client).
    ("evals/__init__.py", "notebook"),
}
# Within api/, these build or configure the adapters: the backend (the server's composition
# root: the store, the bus, the control plane, the in-process worker), the extension (settings,
# subjects), the base handler (maps driver errors that reach a handler untyped to 503 and 422).
# Every other api/ module reaches storage and the bus through the control plane.
API_ADAPTER_USERS = {"api/backend.py", "api/extension.py", "api/handlers/base.py"}
ADAPTER_LAYERS = {"store", "bus", "worker", "runtime"}

# A statement on our schema: what SQL in a string literal looks like (our SQL is upper case).
_SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH)\b[\s\S]*\bduragraph\.([a-z_]+|\{\})")
_PRIVATE_STORE_METHODS = {"_query", "_fetch"}


@functools.cache
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    return tuple(
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    )


def _imports(tree: ast.Module, path: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Relative imports would slip past this check: the code base uses absolute ones only.
            assert node.level == 0, f"{path}: relative import (use duragraph_lab.… instead)"
            if node.module:
                found.add(node.module)
    return found


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "duragraph_lab" and len(parts) > 1 and parts[1] in LAYERS else None


def _string_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """Every string the module's code builds from literals (an f-string as one text, its
    fields as ``{}``), docstrings left out."""
    docstrings: set[int] = set()
    inside_fstrings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(part) for part in node.values)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
            out.append((node.lineno, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and id(node) not in inside_fstrings
        ):
            out.append((node.lineno, node.value))
    return out


def _sql_outside_store() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, tree in _modules():
        if path.startswith("store/"):
            continue
        hits = [f"line {line}: {text[:60]!r}" for line, text in _string_literals(tree) if _SQL.search(text)]
        if hits:
            found[path] = hits
    return found


def _private_store_calls() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, tree in _modules():
        if path.startswith("store/"):
            continue
        hits = [
            f"line {node.lineno}: .{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in _PRIVATE_STORE_METHODS
        ]
        if hits:
            found[path] = hits
    return found


def _api_adapter_imports() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, tree in _modules():
        if not path.startswith("api/") or path in API_ADAPTER_USERS:
            continue
        hits = sorted(m for m in _imports(tree, path) if _layer_of(m) in ADAPTER_LAYERS)
        if hits:
            found[path] = hits
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_inner_layers(layer: str) -> None:
    violations = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        for module in _imports(ast.parse(path.read_text(), filename=str(path)), relative):
            ours = _layer_of(module)
            allowed = ours is None or (
                ours == layer
                or ours in ALLOWED[layer]
                or relative in COMPOSITION_ROOTS
                or (relative, ours) in LAZY_UPWARD
            )
            if not allowed:
                violations.append(f"{relative} imports {module}")
            if layer in PURE and module.split(".")[0] in IO_LIBS:
                violations.append(f"{relative} imports I/O library {module}")
    assert violations == []


def test_the_check_sees_every_layer() -> None:
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(
        LAYERS
    )


def test_sql_lives_only_in_the_store() -> None:
    found = _sql_outside_store()
    assert found == {}


def test_nothing_outside_the_store_calls_its_private_methods() -> None:
    found = _private_store_calls()
    assert found == {}


def test_the_api_reaches_storage_and_the_bus_through_the_control_plane() -> None:
    found = _api_adapter_imports()
    assert found == {}


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ('rows = await db.fetch("SELECT run_id FROM duragraph.runs WHERE x = %s", (x,))', True),
        ('sql = f"UPDATE duragraph.{table} SET a = 1"', True),
        ('sql = f"SELECT {columns} FROM duragraph.threads WHERE {where}"', True),
        ('sql = ("DELETE FROM duragraph.outbox "\n       "WHERE seq = ANY(%s)")', True),
        ('"""SELECT * FROM duragraph.runs, in a docstring."""', False),
        ('probe = "SELECT 1"', False),
        ('message = "select a run from the list"', False),
    ],
)
def test_the_sql_check_sees_sql_in_any_string_literal(source: str, caught: bool) -> None:
    tree = ast.parse(source)
    assert any(_SQL.search(text) for _, text in _string_literals(tree)) == caught


def test_the_server_does_not_import_the_http_client() -> None:
    # What the Jupyter server loads for the extension (and everything its handlers use).
    code = (
        "import sys, duragraph_lab.api.extension, duragraph_lab.api.backend, duragraph_lab.evals;"
        "print(sorted(m for m in sys.modules if m.startswith(('duragraph_lab.client', "
        "'duragraph_lab.notebook'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_the_notebook_names_of_evals_are_the_http_runner() -> None:
    import duragraph_lab.evals as evals
    from duragraph_lab.notebook import experiments

    for name in ("run_experiment", "compare", "ExperimentReport", "ComparisonReport"):
        assert getattr(evals, name) is getattr(experiments, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        evals.no_such_name  # type: ignore[attr-defined]  # noqa: B018
