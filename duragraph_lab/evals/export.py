"""An evaluation as a notebook: a self-contained .ipynb that re-runs a dataset against an assistant.

The notebook connects to a DuraGraph Lab server, loads the dataset and its source runs' event
logs as DataFrames, rebuilds the evaluators (built-ins as code such as ``exact_match("answer")``,
a user's functions as their source), runs the experiment, and shows its summary, plots (score
distribution, per-node latency, pass/fail by example) and, given a baseline experiment, the
comparison with it. A ``parameters`` cell makes papermill-style re-runs possible.

The export is byte-stable: the same arguments give the same bytes (cell ids are derived from a
hash of the arguments, keys are sorted, nothing depends on the clock), so exported notebooks can
be committed and diffed.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from duragraph_lab.evals.evaluators import Evaluator, EvaluatorError
from duragraph_lab.evals.specs import BUILTINS, require_rebuildable, unrecorded_model

NBFORMAT_MINOR = 5
if TYPE_CHECKING:
    import nbformat


def _nbformat() -> Any:  # Any: nbformat has no type information for its builders
    # Imported when a notebook is made: nbformat pulls in jsonschema and its format checkers
    # (over a second to import here), which the server would otherwise pay at start-up.
    return importlib.import_module("nbformat")


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class ExportError(EvaluatorError):
    """The notebook cannot be exported with these arguments (an empty dataset name, no evaluators)."""

    code = "export_error"


def export_notebook(
    path: str | os.PathLike[str] | None = None,
    *,
    dataset: str,
    assistant: str,
    evaluators: Sequence[Evaluator | Mapping[str, Any]],
    dataset_version: int | None = None,
    assistant_version: int | None = None,
    server_url: str | None = None,
    experiment_name: str | None = None,
    baseline: str | None = None,
    concurrency: int = 4,
    title: str | None = None,
) -> nbformat.NotebookNode:
    """The evaluation notebook for ``dataset`` (id or name) re-run against ``assistant`` (id or
    graph name), scored by ``evaluators`` (callables or their specs, see
    :mod:`duragraph_lab.evals.specs`); written to ``path`` when given (see :func:`notebook_bytes`).

    ``server_url`` None: the notebook connects with ``DURAGRAPH_URL`` / ``DURAGRAPH_TOKEN``; a
    token in the URL's query is removed (a notebook is shared, a token is not).
    Raises :class:`EvaluatorError` for an evaluator that cannot be stored (a lambda) and
    :class:`ExportError` for other bad arguments."""
    params = {
        "dataset": _required_text("dataset", dataset),
        "dataset_version": _optional_version("dataset_version", dataset_version),
        "assistant": _required_text("assistant", assistant),
        "assistant_version": _optional_version("assistant_version", assistant_version),
        "server_url": _without_token(server_url),
        "experiment_name": _optional_text("experiment_name", experiment_name),
        "baseline": _optional_text("baseline", baseline),
        "concurrency": _concurrency(concurrency),
        "title": _optional_text("title", title),
    }
    if isinstance(evaluators, (str, bytes, Mapping)) or not isinstance(evaluators, Sequence):
        raise ExportError("evaluators: a list of evaluators (callables or specs)")
    if not evaluators:
        raise ExportError("evaluators: at least one evaluator is needed to score the experiment")
    specs = [require_rebuildable(fn) for fn in evaluators]
    sources: dict[str, set[str]] = {}
    for spec in specs:
        if spec["source"] is not None:
            sources.setdefault(spec["name"], set()).add(spec["source"])
    duplicated = sorted(name for name, texts in sources.items() if len(texts) > 1)
    if duplicated:
        raise ExportError(f"evaluators: two different functions are named {', '.join(duplicated)}")

    nb = _notebook(params, specs)
    if path is not None:
        Path(path).write_bytes(notebook_bytes(nb))
    return nb


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    """The notebook as .ipynb bytes: validated, keys sorted, one trailing newline; the same
    notebook always gives the same bytes."""
    _nbformat().validate(nb)
    text = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


# -- arguments ----------------------------------------------------------------------------------


def _required_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ExportError(f"{name}: a non-empty string (an id or a name), not {value!r}")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _required_text(name, value)


def _optional_version(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExportError(f"{name}: a version number ≥ 1 (or None for the latest), not {value!r}")
    return value


def _concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExportError(f"concurrency: a whole number ≥ 1, not {value!r}")
    return value


def _without_token(url: str | None) -> str | None:
    if url is None:
        return None
    url = _required_text("server_url", url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ExportError(f"server_url: an http(s) URL, not {url!r}")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- the notebook -------------------------------------------------------------------------------


def _notebook(params: dict[str, Any], specs: list[dict[str, Any]]) -> nbformat.NotebookNode:
    identity = json.dumps({"params": params, "evaluators": specs}, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()
    cells: list[tuple[str, str, list[str]]] = [
        ("markdown", _title(params, specs), []),
        ("code", _parameters(params), ["parameters"]),
        ("markdown", "## Connect", []),
        ("code", CONNECT, []),
        ("markdown", DATASET_TEXT, []),
        ("code", LOAD_DATASET, []),
        ("code", LOAD_EVENT_LOGS, []),
        ("markdown", EVALUATORS_TEXT, []),
        ("code", _evaluators_code(specs), []),
        ("markdown", RUN_TEXT, []),
        ("code", RUN_EXPERIMENT, []),
        ("markdown", "## Summary", []),
        ("code", SUMMARY, []),
        ("markdown", PLOTS_TEXT, []),
        ("code", PLOT_HELPERS, []),
        ("code", PLOT_SCORES, []),
        ("code", PLOT_LATENCY, []),
        ("code", PLOT_PASS_FAIL, []),
        ("markdown", COMPARE_TEXT, []),
        ("code", COMPARE, []),
    ]
    _nbf = _nbformat()
    nb: nbformat.NotebookNode = _nbf.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, NBFORMAT_MINOR
    nb.metadata = _nbf.from_dict(
        {
            "kernelspec": KERNELSPEC,
            "language_info": {"name": "python"},
            "duragraph": {"export": params, "evaluators": specs},
        }
    )
    for index, (kind, source, tags) in enumerate(cells):
        cell_id = f"{digest[:12]}-{index:02d}"
        if kind == "markdown":
            cell = _nbf.v4.new_markdown_cell(source, id=cell_id)
        else:
            cell = _nbf.v4.new_code_cell(source, id=cell_id)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def _title(params: dict[str, Any], specs: list[dict[str, Any]]) -> str:
    dataset = f"`{params['dataset']}`" + (
        f" (version {params['dataset_version']})" if params["dataset_version"] else " (latest version)"
    )
    assistant = f"`{params['assistant']}`" + (
        f" (version {params['assistant_version']})" if params["assistant_version"] else ""
    )
    title = params["title"] or f"Evaluation of {params['assistant']} on {params['dataset']}"
    lines = [
        f"# {title}",
        "",
        f"Re-runs every example of the dataset {dataset} against the assistant {assistant}, "
        "scores each run with the evaluators below, and shows the summary, the score distribution, "
        "the per-node latency and pass/fail by example"
        + (f", compared with the baseline experiment `{params['baseline']}`." if params["baseline"] else "."),
        "",
        "Evaluators: " + ", ".join(f"`{spec['name']}`" for spec in specs) + ".",
        "",
        "Every run is an ordinary, durable run of the server (tagged with the experiment and the "
        "example), so it can be inspected, replayed or forked like any other. To re-run with other "
        "values, change the `parameters` cell (papermill: `-p DATASET_VERSION 2`).",
        "",
        "*Exported by `duragraph_lab.evals.export_notebook`.*",
    ]
    return "\n".join(lines)


def _parameters(params: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Parameters (a papermill `parameters` cell: override any of them when re-running).",
            f"SERVER_URL = {python_literal(params['server_url'])}  # None: the DURAGRAPH_URL and DURAGRAPH_TOKEN variables",
            f"DATASET = {python_literal(params['dataset'])}  # a dataset id or name",
            f"DATASET_VERSION = {python_literal(params['dataset_version'])}  # None: the latest version",
            f"ASSISTANT = {python_literal(params['assistant'])}  # an assistant id or graph name",
            f"ASSISTANT_VERSION = {python_literal(params['assistant_version'])}  # None: the assistant's current version",
            f"EXPERIMENT_NAME = {python_literal(params['experiment_name'])}  # None: a generated name",
            f"BASELINE = {python_literal(params['baseline'])}  # an experiment id to compare with, or None",
            f"CONCURRENCY = {python_literal(params['concurrency'])}  # examples run at the same time",
        ]
    )


def _evaluators_code(specs: list[dict[str, Any]]) -> str:
    builtins = sorted({spec["builtin"] for spec in specs if spec["builtin"] is not None})
    sources = [spec for spec in specs if spec["source"] is not None]
    lines: list[str] = []
    if sources:
        # As where the functions are rebuilt from their source (evals/specs.py): annotations are
        # not evaluated, and everything of duragraph_lab.evals is imported.
        lines.append("from __future__ import annotations")
        lines.append("")
        lines.append("from duragraph_lab.evals import *")
    elif builtins:
        lines.append(f"from duragraph_lab.evals import {', '.join(builtins)}")
    if any(
        spec["builtin"] == "llm_judge" and isinstance((spec["kwargs"] or {}).get("model"), str)
        for spec in specs
    ):
        lines.append("from duragraph_lab.llm.openai_compat import OpenAIChatModel")
    pasted: set[str] = set()
    for spec in sources:
        if spec["name"] in pasted:  # the same function listed twice
            continue
        pasted.add(spec["name"])
        lines += ["", "", spec["source"].rstrip("\n")]
        attributes = sorted((spec["kwargs"] or {}).items())
        if attributes:
            lines += ["", ""]
        for attribute, value in attributes:
            lines.append(f"{spec['name']}.{attribute} = {python_literal(value)}")
    lines += ["", ""] if sources else [""]
    lines.append("EVALUATORS = [")
    for spec in specs:
        unrecorded = unrecorded_model(spec)
        if unrecorded:
            lines.append(
                f"    # The judge's model ({unrecorded}) was not recorded: the configured model is used."
            )
        lines.append(f"    {_builtin_call(spec) if spec['builtin'] else spec['name']},")
    lines.append("]")
    return "\n".join(lines)


def _builtin_call(spec: dict[str, Any]) -> str:
    factory = BUILTINS.get(spec["builtin"])
    if factory is None:
        raise EvaluatorError(f"unknown built-in evaluator {spec['builtin']!r}")
    kwargs = dict(spec["kwargs"] or {})
    try:
        bound = inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        raise EvaluatorError(f"{spec['builtin']}: bad kwargs {sorted(kwargs)}: {err}") from None
    args: list[str] = []
    positional = True
    for name, parameter in inspect.signature(factory).parameters.items():
        if name not in bound.arguments:
            positional = False
            continue
        value = bound.arguments[name]
        if value == parameter.default and parameter.default is not inspect.Parameter.empty:
            positional = False
            continue
        code = _literal(spec["builtin"], name, value)
        if positional and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(code)
        else:
            positional = False
            args.append(f"{name}={code}")
    return f"{spec['builtin']}({', '.join(args)})"


def _literal(builtin: str, name: str, value: Any) -> str:
    if builtin == "llm_judge" and name == "model" and isinstance(value, str):
        return f"OpenAIChatModel({python_literal(value)})"
    if builtin == "llm_judge" and name == "model" and isinstance(value, Mapping):
        return "None"  # not recorded (see the comment above it): the configured model
    return python_literal(value)


def python_literal(value: Any) -> str:
    """JSON data as Python source, strings in double quotes (``exact_match("answer")``)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are Python's too
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    raise EvaluatorError(f"{type(value).__name__} is not JSON data: it cannot be written as an argument")


# -- the notebook's code ---------------------------------------------------------------------------

CONNECT = """\
import io
import os

import pandas as pd
from IPython.display import Image, Markdown, display

from duragraph_lab.client import DuraGraphClient

if SERVER_URL is None and not os.environ.get("DURAGRAPH_URL"):
    # A kernel started by a Jupyter server running DuraGraph Lab: that server.
    from duragraph_lab.notebook.session import current

    client = current().client
else:
    client = DuraGraphClient(SERVER_URL)  # SERVER_URL None: DURAGRAPH_URL and DURAGRAPH_TOKEN
client.health()"""

DATASET_TEXT = """\
## The dataset

One row per example: the inputs, the reference outputs (the source run's final state, or written
by hand) and the run each example was frozen from. Below it, the source runs' event logs."""

LOAD_DATASET = """\
examples = client.datasets.examples_frame(DATASET, version=DATASET_VERSION)
print(f"{len(examples)} examples")
examples"""

LOAD_EVENT_LOGS = """\
# The event log of every source run, one DataFrame per run (examples written by hand have none).
source_runs = [run_id for run_id in examples["run_id"].dropna().unique()] if len(examples) else []
event_logs = {run_id: client.runs.events_frame(run_id) for run_id in source_runs}
if event_logs:
    events = pd.concat(event_logs.values(), ignore_index=True)
    display(events.groupby(["run_id", "type"], observed=True).size().unstack(fill_value=0))
else:
    display(Markdown("*No example of this dataset comes from a recorded run.*"))"""

EVALUATORS_TEXT = """\
## The evaluators

Each evaluator grades one run's outcome against one example: a bool, a number (passing at its
`threshold`), None (not applicable) or a dict with `score`, `passed` and `comment`. An evaluator
that raises is a scored error, never a failed experiment."""

RUN_TEXT = """\
## Re-run and score

Every example's inputs are run against the assistant as an ordinary durable run, tagged with the
experiment and the example; the results are recorded on the server as they come in."""

RUN_EXPERIMENT = """\
from duragraph_lab.evals import run_experiment

report = run_experiment(
    client,
    DATASET,
    ASSISTANT,
    EVALUATORS,
    name=EXPERIMENT_NAME,
    dataset_version=DATASET_VERSION,
    assistant_version=ASSISTANT_VERSION,
    concurrency=CONCURRENCY,
)
report"""

SUMMARY = """\
display(report.summary())
results = report.frame()
results"""

PLOTS_TEXT = """\
## Plots

Drawn with matplotlib's object-oriented API on the Agg canvas (no display needed) and shown as
PNG images."""

PLOT_HELPERS = """\
from matplotlib.figure import Figure

experiment_results = client.experiments.results(report.experiment_id)
scores = pd.DataFrame(
    [
        {
            "index": result.index,
            "example_id": result.example_id,
            "evaluator": score["name"],
            "score": score.get("score"),
            "passed": score.get("passed"),
            "error": score.get("error"),
        }
        for result in experiment_results
        for score in result.scores
    ],
    columns=["index", "example_id", "evaluator", "score", "passed", "error"],
)


def show(figure):
    \"\"\"Display a figure as a PNG image (works headless: no pyplot, no GUI backend).\"\"\"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    display(Image(data=buffer.getvalue(), format="png"))"""

PLOT_SCORES = """\
# Score distribution, one histogram per evaluator.
from matplotlib.ticker import MaxNLocator

evaluators = sorted(scores["evaluator"].unique()) if len(scores) else []
figure = Figure(figsize=(3.2 * max(1, len(evaluators)), 2.8), layout="constrained")
axes = figure.subplots(1, max(1, len(evaluators)), squeeze=False, sharey=True)[0]
for ax, name in zip(axes, evaluators):
    values = scores.loc[scores["evaluator"] == name, "score"].dropna().astype(float)
    if len(values):
        ax.hist(values, bins=10, range=(min(0.0, values.min()), max(1.0, values.max())))
    else:
        ax.text(0.5, 0.5, "not applicable", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("score")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
axes[0].set_ylabel("examples")
if not evaluators:
    axes[0].text(0.5, 0.5, "no scores", ha="center", va="center")
figure.suptitle("Score distribution")
show(figure)"""

PLOT_LATENCY = """\
# Per-node latency, from the spans of the experiment's runs (one span per node execution).
run_ids = [result.run_id for result in experiment_results if result.run_id]
spans = pd.concat([client.runs.spans_frame(run_id) for run_id in run_ids], ignore_index=True) if run_ids else None
figure = Figure(figsize=(7, 3.5), layout="constrained")
ax = figure.subplots()
if spans is not None and len(spans):
    by_node = spans.dropna(subset=["duration_ms"]).groupby("node", observed=True)["duration_ms"]
    nodes = sorted(by_node.groups)
    ax.boxplot([by_node.get_group(node).astype(float) for node in nodes], showfliers=True)
    ax.set_xticks(range(1, len(nodes) + 1), nodes, rotation=30, ha="right")
    ax.set_ylabel("duration (ms)")
    display(by_node.describe()[["count", "mean", "50%", "max"]])
else:
    ax.text(0.5, 0.5, "no spans", ha="center", va="center")
ax.set_title("Per-node latency")
show(figure)"""

PLOT_PASS_FAIL = """\
# Pass/fail by example: one row per example, one column per evaluator.
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

colors = {"not applicable": "#bbbbbb", "passed": "#2e9e44", "failed": "#d33b3b", "error": "#111111"}
if len(scores):
    grid = scores.assign(
        code=[
            3 if error else (0 if passed is None else (1 if passed else 2))
            for passed, error in zip(scores["passed"], scores["error"])
        ]
    ).pivot_table(index="index", columns="evaluator", values="code", aggfunc="max")
    rows, columns = grid.shape
    figure = Figure(figsize=(2.5 + 1.2 * columns, min(14, 3 + 0.3 * rows)), layout="constrained")
    ax = figure.subplots()
    ax.imshow(grid.to_numpy(), cmap=ListedColormap(list(colors.values())), vmin=0, vmax=3,
              aspect="auto", interpolation="nearest")
    ax.set_xticks(range(columns), grid.columns, rotation=30, ha="right")
    if rows <= 40:
        ax.set_yticks(range(rows), grid.index)
    ax.set_ylabel("example")
    ax.set_title("Pass/fail by example")
    ax.legend(handles=[Patch(color=c, label=label) for label, c in colors.items()],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    show(figure)
else:
    display(Markdown("*No scores to plot.*"))"""

COMPARE_TEXT = """\
## Comparison with the baseline

Set `BASELINE` to an earlier experiment's id (of the same dataset) to see, example by example,
what regressed, what improved and where the runs first diverged."""

COMPARE = """\
from duragraph_lab.evals import compare

if BASELINE is not None:
    comparison = compare(client, BASELINE, report.experiment_id)
    display(comparison)
    by_example = comparison.frame()
    regressed = by_example[by_example["verdict"] == "regressed"]
    display(
        Markdown(
            f"**{len(regressed)} regressed** of {len(by_example)} examples "
            f"({len(comparison.improved)} improved)"
        )
    )
    if len(regressed):
        display(regressed)
else:
    display(Markdown("*No baseline: set `BASELINE` to an experiment id to compare with it.*"))"""
