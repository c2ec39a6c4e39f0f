"""Evaluators: plain callables ``(example, outcome) -> score`` and the built-in ones.

An evaluator returns a bool (pass/fail), a number (a score; it passes when it is at least the
evaluator's ``threshold``, 1.0 by default), None (not applicable) or a dict with any of
``score``, ``passed`` and ``comment``. :func:`evaluate` turns that into a :class:`Score` and
turns an evaluator that raises into a Score with the error: one failing evaluator (or example)
never sinks an experiment.

What an outcome looks like: the run's final ``outputs`` (its state values), its ``trajectory``
(the nodes executed, in order), its ``tool_calls`` (tool names, in order), ``latency_ms``,
``steps`` and, for a run that failed, ``error``. An example has ``inputs``, the reference
``outputs`` it should produce (``expected``) and ``metadata``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from duragraph_lab.domain.errors import DuraGraphError


class EvaluatorError(DuraGraphError, ValueError):
    """An evaluator was built wrong (a bad pattern, an unknown mode): raised when it is made."""

    code = "evaluator_error"


@dataclass(frozen=True, slots=True)
class Example:
    inputs: Mapping[str, Any]
    expected: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    example_id: str | None = None
    #: The source run's path (None: no source run): what trajectory_match compares with when
    #: ``expected`` has no "trajectory" / "tool_calls".
    trajectory: Sequence[str] | None = None
    tool_calls: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    outputs: Mapping[str, Any] = field(default_factory=dict)
    trajectory: Sequence[str] = ()
    tool_calls: Sequence[str] = ()
    latency_ms: float | None = None
    steps: int | None = None
    error: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    score: float | None  # None: not applicable, or the evaluator failed
    passed: bool | None
    comment: str = ""
    error: str | None = None  # the evaluator raised: "TypeError: ..."

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "passed": self.passed,
            "comment": self.comment,
            "error": self.error,
        }


Evaluator = Callable[[Example, Outcome], Any]


def evaluator_name(fn: Evaluator) -> str:
    return str(getattr(fn, "evaluator_name", None) or getattr(fn, "__name__", None) or type(fn).__name__)


def evaluate(fn: Evaluator, example: Example, outcome: Outcome) -> Score:
    """Run one evaluator on one example's outcome; never raises."""
    name = evaluator_name(fn)
    threshold = float(getattr(fn, "threshold", 1.0))
    try:
        result = fn(example, outcome)
    except Exception as err:
        return Score(name, None, None, error=f"{type(err).__name__}: {err}")
    return _normalise(name, result, threshold)


def _normalise(name: str, result: Any, threshold: float) -> Score:
    comment = ""
    passed: bool | None = None
    if isinstance(result, Mapping):
        comment = str(result.get("comment") or "")
        passed = result.get("passed") if isinstance(result.get("passed"), bool) else None
        result = result.get("score", passed)
    if result is None:
        return Score(name, None, passed, comment)
    if isinstance(result, bool):
        return Score(name, 1.0 if result else 0.0, result if passed is None else passed, comment)
    if isinstance(result, (int, float)) and math.isfinite(result):
        value = float(result)
        return Score(name, value, value >= threshold if passed is None else passed, comment)
    return Score(
        name, None, None, error=f"TypeError: an evaluator returned {type(result).__name__}, not a score"
    )


def _named(
    name: str, fn: Evaluator, threshold: float = 1.0, *, builtin: str, kwargs: dict[str, Any]
) -> Evaluator:
    fn.evaluator_name = name  # type: ignore[attr-defined]
    fn.threshold = threshold  # type: ignore[attr-defined]
    # What the built-in was made with, so that it can be stored and rebuilt (evals/specs.py).
    fn.__duragraph_spec__ = {  # type: ignore[attr-defined]
        "name": name,
        "builtin": builtin,
        "kwargs": kwargs,
        "source": None,
    }
    return fn


_MISSING = object()


def lookup(value: Any, path: str | None) -> Any:
    """``value`` at a dotted path (``"answer"``, ``"messages.-1.content"``); missing → a sentinel
    that equals nothing (see :func:`exact_match`). List indices may be negative."""
    if path is None or path == "":
        return value
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "content" in value:  # a message
        return _text(value["content"])
    return json.dumps(value, sort_keys=True, default=str)


# -- built-ins -----------------------------------------------------------------------------------


def exact_match(path: str | None = None, *, expected: str | None = None) -> Evaluator:
    """The output at ``path`` equals the example's expected value at ``expected`` (default: the
    same path)."""

    def check(example: Example, outcome: Outcome) -> Any:
        want = lookup(example.expected, expected if expected is not None else path)
        if want is _MISSING:
            return None  # nothing to compare with: not applicable
        got = lookup(outcome.outputs, path)
        return {"score": got is not _MISSING and got == want, "comment": f"got {_short(got)}"}

    return _named(
        f"exact_match({path or ''})",
        check,
        builtin="exact_match",
        kwargs={"path": path, "expected": expected},
    )


def json_field_match(fields: Sequence[str]) -> Evaluator:
    """The fraction of ``fields`` (dotted paths) whose output equals the expected value;
    passes when all match."""
    if not fields:
        raise EvaluatorError("json_field_match needs at least one field")

    def check(example: Example, outcome: Outcome) -> Any:
        wrong = [f for f in fields if lookup(outcome.outputs, f) != lookup(example.expected, f)]
        score = 1 - len(wrong) / len(fields)
        return {"score": score, "comment": f"differ: {', '.join(wrong)}" if wrong else "all equal"}

    return _named(
        f"json_field_match({', '.join(fields)})",
        check,
        builtin="json_field_match",
        kwargs={"fields": list(fields)},
    )


def contains(text: str | None = None, *, path: str | None = None, case: bool = False) -> Evaluator:
    """The output at ``path`` (as text; a message's content) contains ``text``, or, without it,
    the example's expected value at the same path."""

    def check(example: Example, outcome: Outcome) -> Any:
        want = text if text is not None else lookup(example.expected, path)
        if want is _MISSING:
            return None
        got = lookup(outcome.outputs, path)
        if got is _MISSING:
            return {"score": False, "comment": f"no output at {path}"}
        hay, needle = _text(got), _text(want)
        if not case:
            hay, needle = hay.lower(), needle.lower()
        return needle in hay

    return _named(
        f"contains({text if text is not None else path or ''})",
        check,
        builtin="contains",
        kwargs={"text": text, "path": path, "case": case},
    )


def regex(pattern: str, *, path: str | None = None) -> Evaluator:
    """The output at ``path`` (as text) matches ``pattern`` (``re.search``)."""
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise EvaluatorError(f"regex({pattern!r}): {err}") from None

    def check(example: Example, outcome: Outcome) -> Any:
        got = lookup(outcome.outputs, path)
        return got is not _MISSING and compiled.search(_text(got)) is not None

    return _named(f"regex({pattern})", check, builtin="regex", kwargs={"pattern": pattern, "path": path})


def numeric_tolerance(
    path: str | None = None, *, expected: str | None = None, abs_tol: float = 0.0, rel_tol: float = 1e-9
) -> Evaluator:
    """The number at ``path`` (a number, or the first number in a text) is within the
    tolerances of the expected number."""

    def number(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        found = (
            re.search(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", _text(value)) if value is not _MISSING else None
        )
        return float(found.group()) if found else None

    def check(example: Example, outcome: Outcome) -> Any:
        want = number(lookup(example.expected, expected if expected is not None else path))
        if want is None:
            return None
        got = number(lookup(outcome.outputs, path))
        if got is None:
            return {"score": False, "comment": "no number in the output"}
        return {
            "score": math.isclose(got, want, abs_tol=abs_tol, rel_tol=rel_tol),
            "comment": f"{got} vs {want}",
        }

    return _named(
        f"numeric_tolerance({path or ''})",
        check,
        builtin="numeric_tolerance",
        kwargs={"path": path, "expected": expected, "abs_tol": abs_tol, "rel_tol": rel_tol},
    )


TrajectoryMode = Literal["exact", "subsequence", "superset", "prefix"]


def trajectory_match(
    expected: Sequence[str] | None = None,
    *,
    of: Literal["nodes", "tools"] = "nodes",
    mode: TrajectoryMode = "exact",
) -> Evaluator:
    """The executed nodes (or tool calls) against ``expected`` (default: the example's
    ``expected["trajectory"]`` or ``["tool_calls"]``, else the source run's own path): ``exact`` the same sequence,
    ``subsequence`` the expected ones in order with others between, ``superset`` all expected
    ones in any order, ``prefix`` starting with them."""
    if mode not in ("exact", "subsequence", "superset", "prefix"):
        raise EvaluatorError(f"trajectory_match: unknown mode {mode!r}")
    if of not in ("nodes", "tools"):
        raise EvaluatorError(f"trajectory_match: of must be 'nodes' or 'tools', not {of!r}")

    def check(example: Example, outcome: Outcome) -> Any:
        key = "trajectory" if of == "nodes" else "tool_calls"
        want = list(expected) if expected is not None else example.expected.get(key)
        if want is None:
            want = example.trajectory if of == "nodes" else example.tool_calls
        if want is None:
            return None
        got = list(outcome.trajectory if of == "nodes" else outcome.tool_calls)
        if mode == "exact":
            ok = got == list(want)
        elif mode == "prefix":
            ok = got[: len(want)] == list(want)
        elif mode == "superset":
            ok = set(want) <= set(got)
        else:
            it = iter(got)
            ok = all(any(step == w for step in it) for w in want)
        return {"score": ok, "comment": f"{' → '.join(got)}"}

    return _named(
        f"trajectory_match({of}, {mode})",
        check,
        builtin="trajectory_match",
        kwargs={"expected": list(expected) if expected is not None else None, "of": of, "mode": mode},
    )


def latency_budget(max_ms: float) -> Evaluator:
    """The run took at most ``max_ms`` milliseconds."""

    def check(example: Example, outcome: Outcome) -> Any:
        if outcome.latency_ms is None:
            return None
        return {"score": outcome.latency_ms <= max_ms, "comment": f"{outcome.latency_ms:.0f} ms"}

    return _named(
        f"latency_budget({max_ms:g} ms)", check, builtin="latency_budget", kwargs={"max_ms": max_ms}
    )


def step_budget(max_steps: int) -> Evaluator:
    """The run took at most ``max_steps`` supersteps."""

    def check(example: Example, outcome: Outcome) -> Any:
        if outcome.steps is None:
            return None
        return {"score": outcome.steps <= max_steps, "comment": f"{outcome.steps} steps"}

    return _named(f"step_budget({max_steps})", check, builtin="step_budget", kwargs={"max_steps": max_steps})


def _short(value: Any, limit: int = 80) -> str:
    text = "(missing)" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_VERDICT = re.compile(r"\bSCORE\s*[:=]\s*(-?\d+(?:\.\d+)?)|\b(PASS|FAIL)\b", re.I)


def llm_judge(
    rubric: str, *, model: Any = None, threshold: float = 0.5, name: str = "llm_judge"
) -> Evaluator:
    """An LLM grades the outcome against ``rubric``: it is shown the inputs, the expected and the
    actual outputs and asked for ``SCORE: <0..1>`` (or PASS/FAIL) and a reason. ``model``: any
    chat model of :mod:`duragraph_lab.llm` (default: the configured one, ``get_chat_model()``;
    offline, the scripted model). A reply without a verdict is an evaluator error."""
    if not rubric.strip():
        raise EvaluatorError("llm_judge needs a rubric")

    def check(example: Example, outcome: Outcome) -> Any:
        from duragraph_lab.llm.factory import get_chat_model  # the model client only when used

        judge = model if model is not None else get_chat_model()
        prompt = (
            "You grade the answer of an AI agent.\n"
            f"Rubric: {rubric}\n"
            f"Inputs: {json.dumps(example.inputs, default=str)}\n"
            f"Expected: {json.dumps(example.expected, default=str)}\n"
            f"Actual: {json.dumps(outcome.outputs, default=str)}\n"
            "Reply with 'SCORE: <a number from 0 to 1>' and one sentence of reasons."
        )
        reply = judge.invoke([{"role": "user", "content": prompt}])
        text = _text(reply)
        found = _VERDICT.search(text)
        if found is None:
            raise ValueError(f"the judge gave no SCORE or PASS/FAIL: {text[:120]!r}")
        if found.group(1) is not None:
            score = min(max(float(found.group(1)), 0.0), 1.0)
        else:
            score = 1.0 if found.group(2).upper() == "PASS" else 0.0
        return {"score": score, "comment": text.strip()[:500]}

    # The model itself is a client object: only its description is recorded (evals/specs.py).
    return _named(
        name,
        check,
        threshold,
        builtin="llm_judge",
        kwargs={"rubric": rubric, "threshold": threshold, "name": name, "model": model},
    )
