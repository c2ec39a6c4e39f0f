"""Dependencies point inward: domain <- graph <- engine <- control <- store/bus/worker <- api/notebook;
SQL and the store's private methods stay in store/; the server does not load the HTTP client."""

from __future__ import annotations

import ast
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
    # The control plane: application services over ports (no SQL, no NATS, no HTTP). It scores,
    # compares and exports experiments with the evals core.
    "control": {"domain", "graph", "engine", "evals"},
    "store": {"domain", "graph", "engine", "control"},
    "bus": {"domain", "graph", "engine", "store"},
    # A worker registers its graphs through the control plane.
    "worker": {"domain", "graph", "engine", "control", "store", "bus", "runtime"},
    "runtime": {"domain", "store", "bus"},
    "client": {"domain"},
    # Evaluators are plain functions and the experiment loop runs over a port; the LLM judge uses
    # the model clients. Never the HTTP client: the server uses evals.
    "evals": {"domain", "llm"},
    "api": {"domain", "graph", "engine", "control", "store", "bus", "worker", "runtime", "evals"},
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
# Files that still hold SQL or call the store's private methods, until their part moves to
# store/ (issue 16: the runs/threads/checkpoints control plane, the outbox relay, creating the
# embedded server's database). Nothing may be added to this list.
SQL_PENDING = {
    "api/backend.py",
    "api/checkpoints.py",
    "api/follow.py",
    "api/runs.py",
    "api/sse.py",
    "api/threads.py",
    "bus/relay.py",
    "runtime/postgres.py",
    "worker/control.py",
}
_SQL = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|COPY\s*\(|pg_\w*advisory_\w*lock)",
    re.IGNORECASE | re.DOTALL,
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
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


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_inner_layers(layer: str) -> None:
    violations = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        for module in _imports(path):
            parts = module.split(".")
            ours = parts[0] == "duragraph_lab" and len(parts) > 1 and parts[1] in LAYERS
            allowed = not ours or (
                parts[1] == layer
                or parts[1] in ALLOWED[layer]
                or relative in COMPOSITION_ROOTS
                or (relative, parts[1]) in LAZY_UPWARD
            )
            if ours and not allowed:
                violations.append(f"{relative} imports {module}")
            if layer in PURE and parts[0] in IO_LIBS:
                violations.append(f"{relative} imports I/O library {module}")
    assert violations == []


def test_the_check_sees_every_layer() -> None:
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(
        LAYERS
    )


def _sql_outside_store(path: Path) -> list[str]:
    """The SQL statements and calls of the store's private methods in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("_query", "_fetch"):
            found.append(f"line {node.lineno}: calls the store's private {node.attr}")
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
        if text is not None and _SQL.search(text):
            found.append(f"line {node.lineno}: SQL {text[:60]!r}")
    return found


def test_sql_lives_in_the_store() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        if relative.startswith("store/") or relative in SQL_PENDING:
            continue
        found = _sql_outside_store(path)
        if found:
            offenders[relative] = found
    assert offenders == {}


def test_the_sql_check_sees_sql() -> None:
    assert _sql_outside_store(PACKAGE / "store" / "queries" / "evals.py")
    assert _sql_outside_store(PACKAGE / "store" / "experiment_locks.py")
    assert not _sql_outside_store(PACKAGE / "control" / "experiments.py")
    # The pending list names only files that still hold SQL: emptied as they move.
    assert all(_sql_outside_store(PACKAGE / name) for name in SQL_PENDING)


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
