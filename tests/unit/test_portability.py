"""Windows: what runs there (the client, `duragraph-lab worker` against your own PostgreSQL and
NATS, the notebook layer) imports no POSIX-only module on its import path. Checked statically on
the package's own modules: an import is fine inside a function (run only where it makes sense),
under ``if TYPE_CHECKING`` or behind a ``sys.platform``/``os.name`` test; anywhere else at module
level it would break the import on Windows."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "duragraph_lab"
POSIX_ONLY = {"fcntl", "pwd", "grp", "termios", "resource", "pty", "tty", "posix", "crypt", "spwd", "syslog"}
ENTRY_POINTS = [
    "duragraph_lab",
    "duragraph_lab.client",
    "duragraph_lab.runtime.cli",
    "duragraph_lab.worker.serve",
    "duragraph_lab.notebook.magics",
    "duragraph_lab.notebook.kernel_worker",
    "duragraph_lab.notebook.widgets",
    "duragraph_lab.notebook.frames",
    "duragraph_lab.evals",
]


def _guarded(test: ast.expr) -> bool:
    text = ast.unparse(test)
    return "TYPE_CHECKING" in text or "sys.platform" in text or "os.name" in text


def module_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Modules imported when ``module`` is imported (function bodies and guarded blocks aside)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _guarded(node.test):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                visit(node.body)

    visit(tree.body)
    return found


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def posix_only_on_the_path(entry_points: list[str]) -> dict[str, set[str]]:
    modules = _modules()
    imports = {
        name: module_level_imports(ast.parse(path.read_text()), name, is_package)
        for name, (path, is_package) in modules.items()
    }
    seen: set[str] = set()
    todo = list(entry_points)
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)  # importing a.b imports a first
        todo.extend(m for m in imports[name] if m in modules)
    return {
        name: {m for m in imports[name] if m.split(".")[0] in POSIX_ONLY}
        for name in sorted(seen)
        if any(m.split(".")[0] in POSIX_ONLY for m in imports[name])
    }


def test_what_runs_on_windows_imports_nothing_posix_only() -> None:
    assert posix_only_on_the_path(ENTRY_POINTS) == {}


def test_the_check_sees_an_unguarded_import() -> None:
    code = "import os\nimport fcntl\nif sys.platform != 'win32':\n    import pwd\ndef f():\n    import grp\n"
    found = module_level_imports(ast.parse(code), "duragraph_lab.x", False)
    assert "fcntl" in found
    assert "pwd" not in found and "grp" not in found
