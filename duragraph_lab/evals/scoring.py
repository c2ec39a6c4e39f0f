"""Score one example's run with evaluators: the step shared by the notebook's runner and the
server's (both hold the example and the run's outcome as the API's JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from duragraph_lab.evals.evaluators import Evaluator, Example, Outcome, evaluate


def score_example(
    scorers: Sequence[Evaluator], example: Mapping[str, Any], outcome: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One score dict per evaluator (an evaluator that raises is scored as an error, see
    :func:`evaluate`). ``example``: a dataset example as ``GET /datasets/{d}/examples`` gives it;
    ``outcome``: ``GET /runs/{run_id}/outcome``."""
    inputs, expected = example.get("inputs"), example.get("outputs")
    # The source run's path is the reference path (a hand-written example has none).
    from_run = bool(example.get("source"))
    case = Example(
        inputs=inputs if isinstance(inputs, Mapping) else {"input": inputs},
        expected=expected if isinstance(expected, Mapping) else {},
        metadata=dict(example.get("metadata") or {}),
        example_id=str(example.get("example_id") or ""),
        trajectory=list(example.get("trajectory") or []) if from_run else None,
        tool_calls=list(example.get("tool_calls") or []) if from_run else None,
    )
    outputs = outcome.get("outputs")
    result = Outcome(
        outputs=outputs if isinstance(outputs, Mapping) else {},
        trajectory=list(outcome.get("trajectory") or []),
        tool_calls=list(outcome.get("tool_calls") or []),
        latency_ms=outcome.get("latency_ms"),
        steps=int(outcome.get("steps") or 0),
        error=outcome.get("error"),
        run_id=outcome.get("run_id"),
    )
    return [evaluate(fn, case, result).as_dict() for fn in scorers]
