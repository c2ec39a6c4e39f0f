"""Evaluations of recorded and re-run agent runs (see docs/evals.md).

The evaluators, their specs, scoring, comparisons and the experiment loop are plain Python,
shared by the server and the notebook. What runs an experiment from a notebook over the HTTP
client (``run_experiment``, ``compare`` and their reports) lives in
:mod:`duragraph_lab.notebook.experiments` and is imported from here on first use: the server
imports this package and must not load the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from duragraph_lab.notebook.experiments import (
        ComparisonReport,
        ExperimentReport,
        compare,
        run_experiment,
    )

#: Names served by duragraph_lab.notebook.experiments (over the HTTP client), imported on first use.
_OVER_HTTP = {"ComparisonReport", "ExperimentReport", "compare", "run_experiment"}

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


def __getattr__(name: str) -> Any:
    if name in _OVER_HTTP:
        return getattr(importlib.import_module("duragraph_lab.notebook.experiments"), name)
    raise AttributeError(f"module 'duragraph_lab.evals' has no attribute {name!r}")
