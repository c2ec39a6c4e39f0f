"""Hatch build hook: build the front end (``extension/``, TypeScript -> esbuild bundles in
``duragraph_lab/static/``) so wheels and editable installs ship it and users need no Node.

It runs ``npm ci`` (when ``node_modules`` is missing or older than ``package-lock.json``) and
``npm run build`` in ``extension/`` when a bundle is missing or older than its sources, and the
same in ``extension/lab/`` for the prebuilt JupyterLab extension (``duragraph_lab/labextensions/
duragraph-lab``, shipped as ``share/jupyter/labextensions/duragraph-lab``). Without npm it keeps
bundles that exist (an sdist carries them) and fails with a clear message when they do not.
``DURAGRAPH_SKIP_FRONTEND=1`` skips it (the bundles must then exist already).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

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


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


class FrontendBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        ext = root / "extension"
        # (directory to build in, its outputs, its sources): the widgets, then the Lab extension
        # (which bundles modules from extension/src with extension/node_modules).
        targets = [
            (ext, [root / p for p in OUTPUTS], [ext / s for s in SOURCES]),
            (ext / "lab", [root / p for p in LAB_OUTPUTS], [ext / s for s in LAB_SOURCES]),
        ]
        for cwd, outputs, sources in targets:
            self._build(ext, cwd, outputs, sources)

    def _build(self, ext: Path, cwd: Path, outputs: list[Path], sources: list[Path]) -> None:
        missing = [p for p in outputs if not p.is_file()]
        if os.environ.get("DURAGRAPH_SKIP_FRONTEND") == "1":
            self._require(missing, "DURAGRAPH_SKIP_FRONTEND=1 is set")
            return
        if not (cwd / "package.json").is_file():  # e.g. a build from a tree without the sources
            self._require(missing, f"{cwd.relative_to(ext.parent)}/ is not there")
            return
        stale = bool(missing) or _newest(sources) > min(p.stat().st_mtime for p in outputs)
        if not stale:
            return
        npm = shutil.which("npm")
        if npm is None:
            self._require(missing, "npm was not found (install Node.js 20+)")
            self.app.display_warning("duragraph-lab: npm not found; using the front-end bundles as they are")
            return
        for where in dict.fromkeys([ext, cwd]):  # the lab build also needs extension/node_modules
            lock = where / "package-lock.json"
            installed = where / "node_modules" / ".package-lock.json"
            if not installed.is_file() or (
                lock.is_file() and lock.stat().st_mtime > installed.stat().st_mtime
            ):
                self._run([npm, "ci", "--no-audit", "--no-fund"], where)
        self._run([npm, "run", "build"], cwd)
        self._require([p for p in outputs if not p.is_file()], "`npm run build` did not produce them")

    def _run(self, argv: list[str], cwd: Path) -> None:
        self.app.display_info(f"duragraph-lab: {' '.join(argv[1:])} in {cwd}")
        result = subprocess.run(argv, cwd=cwd, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"duragraph-lab front end: `{' '.join(argv)}` failed (exit {result.returncode})"
            )

    @staticmethod
    def _require(missing: list[Path], why: str) -> None:
        if missing:
            names = ", ".join(str(p) for p in missing)
            raise RuntimeError(
                f"duragraph-lab front end bundles missing ({names}) and they cannot be built: {why}. "
                "Run `npm ci && npm run build` in extension/ (Node.js 20+)."
            )
