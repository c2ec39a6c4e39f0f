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
from duragraph_lab.evals.runner import ComparisonReport, ExperimentReport, compare, run_experiment

__all__ = [
    "ComparisonReport",
    "Evaluator",
    "EvaluatorError",
    "Example",
    "ExperimentReport",
    "Outcome",
    "Score",
    "compare",
    "contains",
    "evaluate",
    "exact_match",
    "json_field_match",
    "latency_budget",
    "llm_judge",
    "numeric_tolerance",
    "regex",
    "run_experiment",
    "step_budget",
    "trajectory_match",
]
