"""hatch_build.py: Node.js is asked from PyPI only when there is something to build, and a build
outside the checkout keeps its npm packages there while taking the checkout's sources."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hatch_build = _load()


def _tree(root: Path) -> Path:
    """A project tree with the front end's sources and freshly built outputs."""
    for source in hatch_build.SOURCES:
        path = root / "extension" / source
        if source == "src":
            (path / "widgets").mkdir(parents=True)
            (path / "widgets" / "graph_view.ts").write_text("export {};\n")
        else:
            path.write_text("{}\n")
    for source in hatch_build.LAB_SOURCES:
        path = root / "extension" / source
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if "." in path.name:
                path.write_text("{}\n")
            else:
                path.mkdir()
    later = time.time() + 5
    for output in hatch_build.OUTPUTS + hatch_build.LAB_OUTPUTS:
        path = root / output
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("built\n")
        os.utime(path, (later, later))
    return root


def _hook(root: Path) -> Any:
    return hatch_build.FrontendBuildHook(str(root), {}, None, None, str(root / "dist"), "wheel")


def test_node_is_asked_for_only_when_a_bundle_is_missing_or_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DURAGRAPH_SKIP_FRONTEND", raising=False)
    root = _tree(tmp_path)
    assert _hook(root).dependencies() == []  # an sdist: bundles built, sources older
    (root / hatch_build.OUTPUTS[0]).unlink()
    assert _hook(root).dependencies() == [hatch_build.NODE_REQUIREMENT]
    root = _tree(tmp_path / "again")
    newer = time.time() + 60
    os.utime(root / "extension" / "src" / "widgets" / "graph_view.ts", (newer, newer))
    assert _hook(root).dependencies() == [hatch_build.NODE_REQUIREMENT]
    monkeypatch.setenv("DURAGRAPH_SKIP_FRONTEND", "1")
    assert _hook(root).dependencies() == []


def test_a_tree_without_the_front_end_sources_needs_no_node(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    shutil.rmtree(root / "extension")
    assert _hook(root).dependencies() == []


def test_the_build_directory_keeps_npm_packages_and_follows_the_sources(tmp_path: Path) -> None:
    source, target = tmp_path / "extension", tmp_path / "build" / "extension"
    (source / "src").mkdir(parents=True)
    (source / "lab" / "src").mkdir(parents=True)
    (source / "src" / "a.ts").write_text("a")
    (source / "src" / "gone.ts").write_text("old")
    (source / "lab" / "src" / "index.ts").write_text("lab")
    (source / "node_modules" / "x").mkdir(parents=True)  # a developer's own: never copied
    hatch_build._sync(source, target)
    assert (target / "src" / "a.ts").read_text() == "a"
    assert not (target / "node_modules").exists()
    # npm and the builds fill the build directory...
    (target / "node_modules" / "esbuild").mkdir(parents=True)
    (target / "lab" / "node_modules" / "@jupyterlab").mkdir(parents=True)
    (target / "lab" / "lib").mkdir()
    # ...and the checkout changes.
    (source / "src" / "gone.ts").unlink()
    (source / "src" / "a.ts").write_text("changed")
    hatch_build._sync(source, target)
    assert (target / "src" / "a.ts").read_text() == "changed"
    assert not (target / "src" / "gone.ts").exists()
    assert (target / "node_modules" / "esbuild").is_dir()
    assert (target / "lab" / "node_modules" / "@jupyterlab").is_dir()
    assert (target / "lab" / "src" / "index.ts").read_text() == "lab"
