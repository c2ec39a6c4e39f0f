"""The event loop of a ``duragraph-lab worker`` process (duragraph_lab/runtime/event_loop.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from duragraph_lab.runtime.event_loop import EVENT_LOOP_ENV, loop_factory

uvloop = pytest.importorskip("uvloop", reason="uvloop is a dependency on Linux and macOS")


def _loop_of(factory: object) -> str:
    with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
        return type(runner.get_loop()).__module__.split(".")[0]


def test_uvloop_is_the_default_where_installed() -> None:
    factory, name = loop_factory({})
    assert name == "uvloop"
    assert _loop_of(factory) == "uvloop"


def test_uvloop_by_name() -> None:
    factory, name = loop_factory({EVENT_LOOP_ENV: " UVLoop "})
    assert (name, _loop_of(factory)) == ("uvloop", "uvloop")


def test_the_standard_loop_when_asked_for() -> None:
    factory, name = loop_factory({EVENT_LOOP_ENV: "asyncio"})
    assert (factory, name) == (None, "asyncio")
    assert _loop_of(factory) == "asyncio"


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"DURAGRAPH_EVENT_LOOP='tokio': expected one of uvloop, asyncio"):
        loop_factory({EVENT_LOOP_ENV: "tokio"})


def test_the_worker_refuses_an_unknown_loop_in_one_line() -> None:
    env = {**os.environ, EVENT_LOOP_ENV: "tokio", "DURAGRAPH_DATABASE_URL": "postgresql://127.0.0.1:1/x",
           "DURAGRAPH_NATS_URL": "nats://127.0.0.1:1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "duragraph_lab.runtime.cli", "worker", "benchmarks.graphs:linear100"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "duragraph-lab worker: error: DURAGRAPH_EVENT_LOOP='tokio': expected one of uvloop, asyncio"
    ]
