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
from duragraph_lab.evals.export import ExportError, export_notebook, notebook_bytes
from duragraph_lab.evals.runner import ComparisonReport, ExperimentReport, compare, run_experiment

__all__ = [
    "ComparisonReport",
    "Evaluator",
    "EvaluatorError",
    "Example",
    "ExperimentReport",
    "ExportError",
    "Outcome",
    "Score",
    "compare",
    "contains",
    "evaluate",
    "exact_match",
    "export_notebook",
    "json_field_match",
    "latency_budget",
    "llm_judge",
    "notebook_bytes",
    "numeric_tolerance",
    "regex",
    "run_experiment",
    "step_budget",
    "trajectory_match",
]
