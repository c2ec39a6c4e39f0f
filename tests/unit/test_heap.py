"""The collector settings of a long-running process (duragraph_lab/runtime/heap.py).

``settle_heap`` freezes a whole process's heap, so it is tried in processes of their own, never
in the test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from duragraph_lab.runtime.heap import GC_ENV, OLDER_EVERY, YOUNG_THRESHOLD, gc_mode

_SETTLE = """
import gc, json, sys
from duragraph_lab.runtime.heap import settle_heap
kept = {"made at start-up": list(range(10))}
before = gc.get_threshold()
frozen = settle_heap(sys.argv[1])
young = [{"i": i} for i in range(100)]
print(json.dumps({"frozen": frozen, "freeze_count": gc.get_freeze_count(), "threshold": gc.get_threshold(), "before": before,
                  "kept_tracked": gc.is_tracked(kept), "kept_young": any(o is kept for o in gc.get_objects()),
                  "young_seen": any(o is young for o in gc.get_objects())}))
"""


def _settle(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _SETTLE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_tuned_is_the_default_and_default_is_pythons_own() -> None:
    assert gc_mode({}) == "tuned"
    assert gc_mode({GC_ENV: " Default "}) == "default"
    assert gc_mode({GC_ENV: "tuned"}) == "tuned"


def test_an_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"DURAGRAPH_GC='off': expected one of tuned, default"):
        gc_mode({GC_ENV: "off"})


def test_settling_freezes_what_start_up_made_and_spaces_the_collections() -> None:
    out = _settle("tuned")
    assert out["frozen"] == out["freeze_count"]
    assert (
        isinstance(out["frozen"], int) and out["frozen"] > 1_000
    )  # the interpreter's and our modules' objects
    assert out["threshold"] == [YOUNG_THRESHOLD, OLDER_EVERY, OLDER_EVERY]
    # Made before: out of the collector's sight (frozen objects are not in gc.get_objects()).
    assert out["kept_tracked"] is True and out["kept_young"] is False
    # Made after: collected as usual.
    assert out["young_seen"] is True


def test_default_leaves_the_collector_as_python_set_it() -> None:
    out = _settle("default")
    assert out["frozen"] == 0 and out["freeze_count"] == 0
    assert out["threshold"] == out["before"]
    assert out["kept_young"] is True


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_cli_refuses_an_unknown_setting_in_one_line(command: str) -> None:
    env = {**os.environ, GC_ENV: "off", "DURAGRAPH_DATABASE_URL": "postgresql://127.0.0.1:1/x",
           "DURAGRAPH_NATS_URL": "nats://127.0.0.1:1"}  # fmt: skip
    args = ["benchmarks.graphs:linear100"] if command == "worker" else []
    done = subprocess.run(
        [sys.executable, "-m", "duragraph_lab.runtime.cli", command, *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    prefix = "duragraph-lab worker" if command == "worker" else "duragraph-lab"
    assert done.stderr.strip().splitlines() == [
        f"{prefix}: error: DURAGRAPH_GC='off': expected one of tuned, default"
    ]
