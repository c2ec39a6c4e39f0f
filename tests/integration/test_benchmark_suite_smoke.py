# ruff: noqa: RUF001 - target names hold multiplication signs
"""`python -m benchmarks --smoke`: every scenario of the side-by-side suite with tiny sizes, every
contender that is installed, so the suite never rots between full runs. No timing assertions:
only that each scenario ran and produced positive figures of the documented shape."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = {"langgraph": "langgraph.checkpoint.postgres", "dbos": "dbos"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_benchmark_suite_smoke(tmp_path: Path) -> None:
    out = tmp_path / "suite.json"
    docs = tmp_path / "benchmarks.md"
    docs.write_text("prose before\n<!-- benchmarks:begin -->\nold\n<!-- benchmarks:end -->\nprose after\n")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out), "--docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-5000:]
    r = json.loads(out.read_text())
    assert r["mode"] == "smoke" and not r["errors"], r["errors"]
    assert r["machine"]["cores"] > 0 and r["machine"]["ram_gb"] > 0 and r["machine"]["versions"]["python"]
    installed = {name for name, module in CONTENDERS.items() if _installed(module)}
    # A contender is measured when its package is installed, else skipped with the reason.
    assert set(r["skipped"]) == set(CONTENDERS) - installed
    assert all("not installed" in why for why in r["skipped"].values())
    s = r["scenarios"]
    assert set(s) == {
        "per_step",
        "throughput",
        "sse",
        "replay",
        "storage",
        "frames",
        "startup",
        "langgraph_engine",
    }

    us = s["per_step"]["us_per_step"]
    assert set(us) == {"floor", "duragraph", "duragraph_engine", *installed}
    assert all(v > 0 for v in us.values())
    assert s["per_step"]["ratio_to_floor"]["floor"] == 1.0

    sps = s["throughput"]["steps_per_second"]
    assert set(sps) == {"duragraph", *installed} and all(v > 0 for v in sps.values())

    sse = s["sse"]
    for load in ("steady_100_per_s", "burst_fanout100"):
        assert sse[load]["measured"] > 0 and 0 < sse[load]["p50_ms"] <= sse[load]["p99_ms"]
    assert sse["burst_fanout100"]["frames"] == 100
    assert sse["reconnect"]["reconnects"] > 0 and sse["reconnect"]["events"] > 0
    assert sse["reconnect"]["gaps"] >= 0 and sse["reconnect"]["duplicates"] >= 0

    assert s["replay"]["events"] >= 200 and s["replay"]["state_at_ms"]["median"] > 0

    storage = s["storage"]
    assert storage["duragraph"]["rows"] > 0 and storage["duragraph"]["rows_by_table"]["events"] > 0
    if "langgraph" in installed:
        assert storage["langgraph"]["rows"] > 0 and storage["ratio_rows"] > 0

    # Issue 17: the same LangGraph graphs on our LangGraph engine and on PostgresSaver.
    lge = s["langgraph_engine"]
    if "langgraph" in installed:
        assert set(lge["per_step"]["us_per_step"]) == {"duragraph", "duragraph_engine", "langgraph"}
        assert (
            all(v > 0 for v in lge["per_step"]["us_per_step"].values())
            and lge["per_step"]["ratio_median"] > 0
        )
        assert set(lge["throughput"]["steps_per_second"]) == {"duragraph", "langgraph"}
        assert lge["throughput"]["ratio_median"] > 0
        by_table = lge["storage"]["duragraph"]["rows_by_table"]
        assert (
            by_table["events"] > 0
            and by_table["lg_checkpoints"] > 0
            and lge["storage"]["langgraph"]["rows"] > 0
        )
    else:
        assert "not installed" in lge["skipped"]

    assert s["frames"]["events"] == 2000 and all(v > 0 for v in s["frames"]["seconds"].values())
    assert s["startup"]["cold"]["ready_s"] > 0 and s["startup"]["warm"]["rss_dev_mb"] > 0

    targets = {t["target"]: t for t in r["targets"]}
    assert "per-step ≤ 1.5 × floor" in targets and "SSE zero gaps across reconnects" in targets
    if "langgraph" in installed:
        assert "LangGraph graph throughput ≥ 2 × PostgresSaver" in targets
    assert all(isinstance(t["met"], bool) for t in targets.values())
    # Smoke runs never touch docs unless asked: the markdown goes to stdout only.
    assert "old" in docs.read_text()
    assert "### Per-step cost" in result.stdout and "### Targets" in result.stdout
    if "langgraph" in installed:
        assert "### LangGraph graphs: DuraGraph's LangGraph engine vs PostgresSaver" in result.stdout


def test_benchmark_suite_writes_docs_section(tmp_path: Path) -> None:
    """The generated section replaces what is between the markers and keeps the prose around it."""
    from benchmarks.__main__ import BEGIN, END, write_docs

    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Title\nprose before\n{BEGIN}\nold figures\n{END}\nprose after\n")
    write_docs(docs, "new figures\n")
    assert docs.read_text() == f"# Title\nprose before\n{BEGIN}\nnew figures\n{END}\nprose after\n"
    docs.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        write_docs(docs, "x\n")


def test_missing_contender_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import contenders

    monkeypatch.setitem(contenders.PACKAGES, "dbos", ("dbos", "no-such-package-for-duragraph"))
    assert contenders.missing("dbos") == (
        "no-such-package-for-duragraph is not installed (pip install 'duragraph-lab[bench]')"
    )
    assert contenders.missing("langgraph") is None or "not installed" in str(contenders.missing("langgraph"))
