"""Dependencies point inward: domain <- graph <- engine <- store/bus/worker <- api/notebook."""

from __future__ import annotations

import ast
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
    "store": {"domain", "graph", "engine", "control"},
    "bus": {"domain", "graph", "engine", "store"},
    "worker": {"domain", "graph", "engine", "store", "bus", "runtime"},
    "runtime": {"domain", "store", "bus"},
    "client": {"domain"},
    # Evaluators are plain functions; the LLM judge uses the model clients.
    # ... and experiments run through the HTTP client.
    "evals": {"domain", "llm", "client"},
    # The server compares runs and experiments (evals.diff) and exports eval notebooks.
    "api": {"domain", "graph", "engine", "store", "bus", "worker", "runtime", "evals"},
    "notebook": {"domain", "graph", "engine", "client", "runtime", "store", "bus", "worker", "evals"},
}
PURE = {"domain", "graph", "engine", "control"}
# The command line wires everything together, so it alone may import any layer.
COMPOSITION_ROOTS = {"runtime/cli.py"}
# CompiledGraph.invoke() runs the engine in-process (a notebook convenience). It imports the
# engine inside the method, so the graph layer has no import-time dependency on it.
LAZY_UPWARD = {("graph/compiled.py", "engine")}


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
