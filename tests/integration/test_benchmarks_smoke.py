"""The benchmark scripts run in smoke mode (tiny sizes), so they never rot between full runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_append_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "append.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.append", "--steps", "20", "--rounds", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    medians = json.loads(out.read_text())
    assert set(medians) == {"floor", "append (sql)", "append"}
    assert all(v > 0 for v in medians.values())
    assert "| floor |" in result.stdout


def test_startup_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.startup", "--runs", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["start"] for row in report["medians"]] == ["cold", "warm"]
    assert all(row["ready_s"] > 0 and row["rss_postgres_mb"] > 0 for row in report["medians"])


def test_per_step_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "per_step.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.per_step", "--runs", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["steps_per_run"] == 100
    assert report["duragraph_us_per_step"] > 0
    assert report["floor_us_per_step"] > 0


def test_langgraph_throughput_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "lg_throughput.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.lg_throughput", "--runs", "10", "--workers", "1", "--rounds", "1",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [row] = json.loads(out.read_text())
    assert row["steps_per_run"] == 20
    assert row["workers"] == 1 and row["ours_steps_per_s"] > 0 and row["postgressaver_steps_per_s"] > 0
    assert row["cpu_us_per_step"]["workers"] > 0 and set(row["cores"]) <= set(row["cpu_us_per_step"])
    assert 20 < row["workers_rss_mib"] < 4096  # a worker process's resident memory, in MiB
    # The round's phases, from the runs' events: created, then stepping, then all done.
    phases = row["phases"]
    assert 0 < phases["created"] < phases["all_started"] < phases["first_done"] <= phases["done"]
    assert phases["steady"] > 0
    floor = tmp_path / "floor.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.lg_throughput", "--floor", "--runs", "10", "--rounds", "1",
         "--json", str(floor)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(floor.read_text())
    assert set(figures) == {"no checkpointer", "InMemorySaver (durability=sync)"}
    assert all(f[0] > 0 for f in figures.values())


def test_langgraph_append_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "lg_append.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.lg_append", "--rounds", "2", "--runs", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert set(figures["median_us"]) == {
        "as built",
        "by the trigger",
        "no read models",
        "PostgresSaver-shaped",
    }
    assert all(len(r) == 2 and all(x > 0 for x in r) for r in figures["rounds_us"].values())
    # The read models are work: with the trigger off the same statement does less. (A replay
    # that wrote nothing, or ran the same way twice, would not show it.)
    assert figures["median_us"]["as built"] > figures["median_us"]["no read models"]
    assert figures["median_us"]["by the trigger"] > figures["median_us"]["no read models"]
    assert "the step's read models:" in result.stdout


def test_cpu_per_step_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_per_step", "--both", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| native", "| langgraph"))]
    assert [r.split("|")[1].strip() for r in rows] == ["native", "langgraph"]
    # Every process's CPU per step is a positive figure (each step costs the worker something).
    assert all(float(r.split("|")[2].replace(",", "")) > 0 for r in rows)
    # Each step commits its events: hundreds of bytes of write-ahead log at least.
    assert all(float(r.split("|")[-2].replace(",", "")) > 200 for r in rows)


def test_pg_step_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pg_step", "--runs", "1", "--top", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:5]
        for line in result.stdout.splitlines()
        if line.startswith("| `duragraph.")
    }
    # A LangGraph step is one fenced commit (the run's start and end add a few): about one call
    # of the append function a step, and the time of the functions it calls is part of its own.
    calls, total, self_ = (float(c.replace(",", "")) for c in rows["`duragraph.append_run_events`"])
    assert 1.0 <= calls <= 1.5, rows
    assert total > self_ > 0
    # A step's checkpoint and writes are written by the append itself (migration 0019): the
    # trigger projects only the run's first and last commits' records.
    assert float(rows["`duragraph.project_checkpoints`"][0]) < 0.5, rows
    statements = [
        line for line in result.stdout.splitlines() if "append_run_events" in line and "(execute)" in line
    ]
    assert statements, result.stdout


def test_pg_step_benchmark_smoke_with_runs_together() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pg_step", "--runs", "1", "--together", "8", "--top", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("800 steps; ")  # 8 runs of 100 steps
    # Runs at once: the worker's commits go in groups (the batch function, several appends a call).
    (batch,) = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| `duragraph.append_run_events_batch`")
    ]
    assert 0 < float(batch.split("|")[2]) < 1.0, batch


def test_turns_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.turns", "--turns", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 3 |")]
    assert len(rows) == 1, result.stdout
    assert rows[0][2].strip() == "6" and float(rows[0][3]) > 0  # 6 messages; a run takes time
    assert "step_planned" in rows[0][4] and "run_completed" in rows[0][4]
