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
    # The control plane: application services over ports (no SQL, no NATS, no HTTP).
    "control": {"domain", "graph", "engine"},
    # The adapters implement the control plane's ports (and use its records).
    "store": {"domain", "graph", "engine", "control"},
    "bus": {"domain", "graph", "engine", "control", "store"},
    "worker": {"domain", "graph", "engine", "store", "bus", "runtime"},
    # Wires processes together: the control plane on PostgreSQL and NATS is built here.
    "runtime": {"domain", "control", "store", "bus"},
    "client": {"domain"},
    # Evaluators are plain functions; the LLM judge uses the model clients.
    # ... and experiments run through the HTTP client.
    "evals": {"domain", "llm", "client"},
    # The server compares runs and experiments (evals.diff) and exports eval notebooks.
    "api": {"domain", "graph", "engine", "control", "store", "bus", "worker", "runtime", "evals"},
    "notebook": {"domain", "graph", "engine", "client", "runtime", "store", "bus", "worker", "evals"},
}
PURE = {"domain", "graph", "engine", "control"}
# The command line wires everything together, so it alone may import any layer.
COMPOSITION_ROOTS = {"runtime/cli.py"}
# CompiledGraph.invoke() runs the engine in-process (a notebook convenience). It imports the
# engine inside the method, so the graph layer has no import-time dependency on it.
LAZY_UPWARD = {("graph/compiled.py", "engine")}

# Within api/, these build or configure the adapters: the backend (the server's composition
# root: the store, the bus, the control plane, the in-process worker), the extension (settings,
# subjects), the base handler (maps driver errors that reach a handler untyped to 503 and 422).
# Every other api/ module reaches storage and the bus through the control plane.
API_ADAPTER_USERS = {"api/backend.py", "api/extension.py", "api/handlers/base.py"}
ADAPTER_LAYERS = {"store", "bus", "worker", "runtime"}

# Modules that still break a rule because another part of issue 16 moves them (the "services"
# scope: assistants, evals, the event log, metrics). Each entry must still break its rule (see
# test_pending_exceptions_are_still_needed), so the list shrinks as they move and cannot go stale.
PENDING_SQL = {
    "api/assistants.py",
    "api/bulk_copy.py",
    "api/eventlog.py",
    "api/evals.py",
    "api/experiment_runner.py",
    "api/metrics.py",
}
PENDING_PRIVATE_STORE_CALLS = PENDING_SQL
PENDING_ADAPTER_IMPORTS = {
    "api/assistants.py",
    "api/bulk_copy.py",
    "api/eventlog.py",
    "api/evals.py",
    "api/experiment_runner.py",
}
# The API server loads the HTTP client through evals (its experiment loop) until evals is split
# into a pure core and adapters.
PENDING_SERVER_LOADS_CLIENT = True

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


def _server_loads_client() -> bool:
    """Whether importing the server extension (routes, handlers, the backend) loads the client."""
    probe = (
        "import sys, duragraph_lab.api.extension, duragraph_lab.api.routes, duragraph_lab.api.backend; "
        "print(any(m == 'duragraph_lab.client' or m.startswith('duragraph_lab.client.') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.strip() == "True"


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
    assert {p: hits for p, hits in found.items() if p not in PENDING_SQL} == {}


def test_nothing_outside_the_store_calls_its_private_methods() -> None:
    found = _private_store_calls()
    assert {p: hits for p, hits in found.items() if p not in PENDING_PRIVATE_STORE_CALLS} == {}


def test_the_api_reaches_storage_and_the_bus_through_the_control_plane() -> None:
    found = _api_adapter_imports()
    assert {p: hits for p, hits in found.items() if p not in PENDING_ADAPTER_IMPORTS} == {}


def test_the_server_does_not_load_the_http_client() -> None:
    assert _server_loads_client() == PENDING_SERVER_LOADS_CLIENT


def test_pending_exceptions_are_still_needed() -> None:
    """An exception whose module now keeps the rule must leave the list (the rule then holds)."""
    assert sorted(PENDING_SQL - set(_sql_outside_store())) == []
    assert sorted(PENDING_PRIVATE_STORE_CALLS - set(_private_store_calls())) == []
    assert sorted(PENDING_ADAPTER_IMPORTS - set(_api_adapter_imports())) == []


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
