"""benchmarks/event_frames.py in smoke mode (a tiny log), so that it never rots between full runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_event_frames_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "event_frames.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.event_frames", "--events", "3000", "--rounds", "1",
         "--json-events", "1500", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["events"] == 3000
    assert set(report["seconds"]) == {
        "run, payload=dict",
        "run, payload=json",
        "run, payload=none",
        "thread, payload=dict",
    }
    assert all(v > 0 for v in report["seconds"].values())
    assert report["dtypes"]["recorded_at"] == "datetime64[ns, UTC]" and report["dtypes"]["step"] == "Int64"
    assert len(report["floor_seconds"]) == 2 and all(v > 0 for v in report["floor_seconds"].values())
    assert report["json_pages"]["events"] == 1500 and report["arrow_bytes"] > 0
    assert "| run, payload=dict |" in result.stdout
