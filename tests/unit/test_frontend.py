"""The front end's own checks (extension/): TypeScript type-check and the renderers' unit tests,
run with Node as part of the Python suite so that one command runs everything."""

from __future__ import annotations

from tests.node import npm


def test_typescript_type_checks() -> None:
    result = npm("run", "typecheck")
    assert result.returncode == 0, result.stdout + result.stderr


def test_renderer_unit_tests_pass() -> None:
    result = npm("test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass " in result.stdout
