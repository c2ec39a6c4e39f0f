"""Comparing two runs, or two experiments example by example: plain functions over JSON.

A run is described by its per-node results (``nodes``: ``{step, node, ns, update, duration_ms}``
in commit order), its final ``outputs``, ``latency_ms`` and ``steps``. The server computes the
comparisons (``POST /runs/compare``, ``POST /experiments/compare``) with these functions, so the
notebook, the magics and the dashboard all see the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: A state difference is reported down to this depth; deeper differences are one "changed" entry.
MAX_DIFF_DEPTH = 6
#: At most this many differences per comparison (the rest are counted, not listed).
MAX_DIFFS = 200


def _root_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # Subgraph internals are compared through their parent node's update: a subgraph that took
    # another path inside shows up as a different update of the node that runs it.
    return [n for n in nodes if not n.get("ns")]


def _step_key(node: Mapping[str, Any]) -> tuple[int, str]:
    return (int(node.get("step") or 0), str(node.get("node")))


def first_divergence(
    base: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """Where two runs' paths first differ: a different node at the same position, the same node
    with a different update, or one run stopping earlier. None when they agree throughout.

    Nodes of one superstep commit in whatever order they finish, so each run's nodes are put in
    (step, node) order first: two runs of the same graph that only finished parallel tasks in a
    different order do not diverge."""
    a = sorted(_root_nodes(base), key=_step_key)
    b = sorted(_root_nodes(candidate), key=_step_key)
    for index in range(max(len(a), len(b))):
        left = a[index] if index < len(a) else None
        right = b[index] if index < len(b) else None
        if left is None or right is None:
            present = left if left is not None else right
            assert present is not None
            return {
                "index": index,
                "step": present.get("step"),
                "base": _side(left),
                "candidate": _side(right),
                "reason": "missing",
            }
        if (left.get("step"), left.get("node")) != (right.get("step"), right.get("node")):
            return {
                "index": index,
                "step": min(int(left.get("step") or 0), int(right.get("step") or 0)),
                "base": _side(left),
                "candidate": _side(right),
                "reason": "node",
            }
        if not same(left.get("update"), right.get("update")):
            return {
                "index": index,
                "step": left.get("step"),
                "base": _side(left),
                "candidate": _side(right),
                "reason": "update",
            }
    return None


def _side(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {"node": node.get("node"), "step": node.get("step"), "update": node.get("update")}


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, ignoring what differs between two executions of the same thing:
    message ids (generated per run) and NaN != NaN."""
    return not state_diff(a, b, limit=1)


_VOLATILE_KEYS = frozenset({"id", "run_id", "tool_call_id"})


def _is_message(value: Mapping[str, Any]) -> bool:
    """A chat message, or a tool call inside one: their ids are made anew by every run."""
    return ("type" in value and "content" in value) or ("name" in value and "args" in value)


def state_diff(base: Any, candidate: Any, *, limit: int = MAX_DIFFS) -> list[dict[str, Any]]:
    """The differences between two states (JSON values) as ``{path, change, base, candidate}``,
    ``path`` a list of keys/indexes, ``change`` one of added, removed, changed. Message ids are
    ignored (each run makes its own)."""
    out: list[dict[str, Any]] = []
    _diff(base, candidate, [], out, limit, 0)
    return out


def _diff(a: Any, b: Any, path: list[Any], out: list[dict[str, Any]], limit: int, depth: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping) and depth < MAX_DIFF_DEPTH:
        message = _is_message(a) and _is_message(b)
        for key in sorted(set(a) | set(b), key=str):
            if message and key in _VOLATILE_KEYS:
                continue
            if key not in b:
                out.append({"path": [*path, key], "change": "removed", "base": a[key], "candidate": None})
            elif key not in a:
                out.append({"path": [*path, key], "change": "added", "base": None, "candidate": b[key]})
            else:
                _diff(a[key], b[key], [*path, key], out, limit, depth + 1)
            if len(out) >= limit:
                return
        return
    if _is_list(a) and _is_list(b) and depth < MAX_DIFF_DEPTH:
        for index in range(max(len(a), len(b))):
            if index >= len(b):
                out.append({"path": [*path, index], "change": "removed", "base": a[index], "candidate": None})
            elif index >= len(a):
                out.append({"path": [*path, index], "change": "added", "base": None, "candidate": b[index]})
            else:
                _diff(a[index], b[index], [*path, index], out, limit, depth + 1)
            if len(out) >= limit:
                return
        return
    if not _equal_leaf(a, b):
        out.append({"path": path, "change": "changed", "base": a, "candidate": b})


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _equal_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b  # 1 and 1.0 are the same JSON number
    return type(a) is type(b) and bool(a == b)


def verdict(status: str | None, error: str | None, scores: Iterable[Mapping[str, Any]]) -> str:
    """One example's outcome: ``error`` (the run failed, or an evaluator raised), ``failed`` (an
    evaluator said no), else ``passed``."""
    scores = list(scores)
    if error or status in {"error", "timeout", "cancelled"} or any(s.get("error") for s in scores):
        return "error"
    if any(s.get("passed") is False for s in scores):
        return "failed"
    return "passed"


def _delta(base: float | None, candidate: float | None) -> dict[str, Any]:
    delta = None if base is None or candidate is None else candidate - base
    return {"base": base, "candidate": candidate, "delta": delta}


def compare_runs(base: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    """Two runs side by side: the first diverging node, the final-state diff, latency and steps."""
    return {
        "base": base.get("run_id"),
        "candidate": candidate.get("run_id"),
        "first_divergence": first_divergence(base.get("nodes") or [], candidate.get("nodes") or []),
        "state_diff": state_diff(base.get("outputs"), candidate.get("outputs")),
        "latency_ms": _delta(base.get("latency_ms"), candidate.get("latency_ms")),
        "steps": _delta(base.get("steps"), candidate.get("steps")),
    }


def _scores(result: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {str(s.get("name")): s for s in (result or {}).get("scores") or []}


def _verdict(base: Mapping[str, Any] | None, candidate: Mapping[str, Any] | None) -> str:
    if candidate is None or candidate.get("verdict") == "error":
        return "error"
    if base is None:
        return "unchanged"
    rank = {"error": 0, "failed": 1, "passed": 2}
    before, after = rank.get(str(base.get("verdict")), 0), rank.get(str(candidate.get("verdict")), 0)
    if after < before:
        return "regressed"
    if after > before:
        return "improved"
    # Same verdict: a lower score on any evaluator is still a regression worth showing.
    deltas = [d for d in _score_deltas(base, candidate).values() if d["delta"] is not None]
    if any(d["delta"] < 0 for d in deltas):
        return "regressed"
    if any(d["delta"] > 0 for d in deltas):
        return "improved"
    return "unchanged"


def _score_deltas(
    base: Mapping[str, Any] | None, candidate: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    a, b = _scores(base), _scores(candidate)
    return {name: _delta(_num(a.get(name)), _num(b.get(name))) for name in sorted(set(a) | set(b))}


def _num(score: Mapping[str, Any] | None) -> float | None:
    value = None if score is None else score.get("score")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare_results(
    base: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Two experiments' results, example by example (matched by ``example_id``): score deltas, a
    verdict (regressed, improved, unchanged, error) and, where the paths differ, the run diff."""
    by_id = {str(r["example_id"]): r for r in base}
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for result in candidate:
        example_id = str(result["example_id"])
        seen.add(example_id)
        rows.append(_row(example_id, by_id.get(example_id), result))
    for example_id, result in by_id.items():
        if example_id not in seen:
            rows.append(_row(example_id, result, None))
    rows.sort(key=lambda r: (r["index"] if r["index"] is not None else math.inf, r["example_id"]))
    verdicts = [r["verdict"] for r in rows]
    names = sorted({name for r in rows for name in r["scores"]})
    mean_deltas: dict[str, float | None] = {}
    for name in names:
        deltas = [
            r["scores"][name]["delta"] for r in rows if r["scores"].get(name, {}).get("delta") is not None
        ]
        mean_deltas[name] = sum(deltas) / len(deltas) if deltas else None
    return {
        "examples": rows,
        "summary": {
            "regressed": verdicts.count("regressed"),
            "improved": verdicts.count("improved"),
            "unchanged": verdicts.count("unchanged"),
            "errors": verdicts.count("error"),
            "mean_deltas": mean_deltas,
        },
    }


def _row(
    example_id: str, base: Mapping[str, Any] | None, candidate: Mapping[str, Any] | None
) -> dict[str, Any]:
    either = candidate if candidate is not None else base
    assert either is not None
    run = compare_runs(base, candidate) if base is not None and candidate is not None else None
    return {
        "example_id": example_id,
        "index": either.get("index"),
        "base_status": None if base is None else base.get("status"),
        "candidate_status": None if candidate is None else candidate.get("status"),
        "base_run_id": None if base is None else base.get("run_id"),
        "candidate_run_id": None if candidate is None else candidate.get("run_id"),
        "scores": _score_deltas(base, candidate),
        "passed": {
            "base": None if base is None else base.get("verdict") == "passed",
            "candidate": None if candidate is None else candidate.get("verdict") == "passed",
        },
        "verdict": _verdict(base, candidate),
        "run": run,
    }
