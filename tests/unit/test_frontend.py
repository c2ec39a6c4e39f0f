"""The front end's own checks (extension/): TypeScript type-check and the renderers' unit tests,
run with Node as part of the Python suite so that one command runs everything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[2] / "extension"


def npm(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("npm")
    if exe is None:
        pytest.fail("npm is not installed: the front end cannot be checked (install Node.js 20+)")
    if not (EXT / "node_modules").is_dir():
        # `pip install -e .` runs `npm ci` through hatch_build.py; do it here if it did not.
        subprocess.run([exe, "ci", "--no-audit", "--no-fund"], cwd=EXT, check=True, capture_output=True)
    return subprocess.run([exe, *args], cwd=EXT, capture_output=True, text=True, timeout=300)


def test_typescript_type_checks() -> None:
    result = npm("run", "typecheck")
    assert result.returncode == 0, result.stdout + result.stderr


def test_renderer_unit_tests_pass() -> None:
    result = npm("test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass " in result.stdout
