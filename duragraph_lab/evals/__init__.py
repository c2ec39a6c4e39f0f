"""Evaluations of recorded and re-run agent runs (see docs/evals.md)."""

from duragraph_lab.evals.evaluators import (
    Evaluator,
    EvaluatorError,
    Example,
    Outcome,
    Score,
    contains,
    evaluate,
    exact_match,
    json_field_match,
    latency_budget,
    llm_judge,
    numeric_tolerance,
    regex,
    step_budget,
    trajectory_match,
)

__all__ = [
    "Evaluator",
    "EvaluatorError",
    "Example",
    "Outcome",
    "Score",
    "contains",
    "evaluate",
    "exact_match",
    "json_field_match",
    "latency_budget",
    "llm_judge",
    "numeric_tolerance",
    "regex",
    "step_budget",
    "trajectory_match",
]
