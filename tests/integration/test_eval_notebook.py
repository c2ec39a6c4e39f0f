"""An exported evaluation notebook executed headless (nbclient, a python3 kernel of this venv)
against a real server (``api_server``): it loads the dataset and its runs' event logs, re-runs
the examples against the chat demo, records the experiment, plots, and compares with a baseline.
Exporting the same arguments again gives the same bytes (issue 8)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.evals import (
    Example,
    Outcome,
    exact_match,
    latency_budget,
    run_experiment,
    trajectory_match,
)
from duragraph_lab.evals.export import export_notebook, notebook_bytes
from tests.apiserver import ApiServer

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = ("what is 6 * 7", "what is 2 + 3", "hello there")


def answers_with_a_number(example: Example, outcome: Outcome) -> dict[str, Any]:
    """A user's evaluator: exported as its source, rebuilt in the notebook's kernel."""
    import re

    text = str(outcome.outputs["messages"][-1]["content"])
    return {"score": bool(re.search(r"\d", text)), "comment": text[:40]}


EVALUATORS: list[Any] = [
    exact_match("messages.-1.content"),
    trajectory_match(mode="exact"),
    latency_budget(60_000),
    answers_with_a_number,
]


def kernel_env(api_server: ApiServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["DURAGRAPH_URL"] = f"http://127.0.0.1:{api_server.port}/"
    env["DURAGRAPH_TOKEN"] = api_server.token
    env["MPLBACKEND"] = "Agg"  # headless, as in CI: the notebook must not need a display
    return env


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def dataset(client: DuraGraphClient) -> dict[str, Any]:
    """Three chat runs frozen into a dataset, and a baseline experiment on it."""
    tag = uuid.uuid4().hex[:10]
    for text in QUESTIONS:
        client.runs.wait(
            None, "chat", input={"messages": [{"role": "user", "content": text}]}, metadata={"nb": tag}
        )
    name = f"nb-{tag}"
    created = client.datasets.create(name, graph_id="chat", run_metadata={"nb": tag})
    assert created.example_count == len(QUESTIONS)
    baseline = run_experiment(client, name, "chat", EVALUATORS, name="baseline", progress=False)
    assert baseline.experiment.result_count == len(QUESTIONS)
    return {"name": name, "dataset_id": created.dataset_id, "baseline": baseline.experiment_id}


def _cell(nb: nbformat.NotebookNode, starts: str) -> Any:
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(starts)]
    assert len(found) == 1, [c.source[:40] for c in nb.cells]
    return found[0]


def _data(cell: Any) -> list[dict[str, Any]]:
    return [dict(o.data) for o in cell.outputs if o.output_type in ("execute_result", "display_data")]


def test_the_exported_notebook_runs_headless_and_records_an_experiment(
    api_server: ApiServer, client: DuraGraphClient, dataset: dict[str, Any], tmp_path: Path
) -> None:
    arguments: dict[str, Any] = {
        "dataset": dataset["name"],
        "assistant": "chat",
        "evaluators": EVALUATORS,
        "baseline": dataset["baseline"],
        "concurrency": 2,
        "experiment_name": "exported",
    }
    path = tmp_path / "eval.ipynb"
    export_notebook(path, **arguments)
    exported = path.read_bytes()
    assert notebook_bytes(export_notebook(**arguments)) == exported  # the same input, the same bytes

    nb = nbformat.reads(exported.decode(), as_version=4)
    # papermill-style: a cell injected after the `parameters` cell overrides its values.
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell('EXPERIMENT_NAME = "injected"', id="injected-parameters")
    nb.cells.insert(params + 1, injected)
    runner = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    try:
        runner.execute(env=kernel_env(api_server))  # raises CellExecutionError on a failing cell
    finally:
        nbformat.write(nb, tmp_path / "executed.ipynb")  # to look at when the test fails

    # The dataset, and the source runs' event logs (one row per run in the counts table).
    examples = _cell(nb, "examples = client.datasets.examples_frame")
    assert f"{len(QUESTIONS)} examples" in "".join(o.get("text", "") for o in examples.outputs)
    logs = _data(_cell(nb, "# The event log of every source run"))
    assert logs and logs[0]["text/html"].count("<tr") >= 1 + len(QUESTIONS)
    assert "node_completed" in logs[0]["text/html"]

    # The experiment, recorded on the server with one result per example.
    experiments = [e for e in client.experiments.list(dataset=dataset["name"]) if e.name == "injected"]
    assert len(experiments) == 1
    experiment = experiments[0]
    assert experiment.status == "completed" and experiment.result_count == len(QUESTIONS)
    assert [e["name"] for e in experiment.evaluators][-1] == "answers_with_a_number"
    results = client.experiments.results(experiment.experiment_id)
    assert len(results) == len(QUESTIONS)
    by_name = {s["name"]: s for s in results[0].scores}
    assert by_name["answers_with_a_number"]["error"] is None  # the pasted source ran in the kernel
    assert by_name["exact_match(messages.-1.content)"]["passed"] is True  # the scripted model is stable

    # The summary table: one row per evaluator; the results frame: every example.
    summary, frame = _data(_cell(nb, "display(report.summary())"))
    for name in by_name:
        assert name in summary["text/html"]
    for result in results:
        assert result.example_id in frame["text/html"]

    # Three plots, as PNG images.
    for starts in ("# Score distribution", "# Per-node latency", "# Pass/fail by example"):
        images = [d for d in _data(_cell(nb, starts)) if "image/png" in d]
        assert len(images) == 1, starts
    latency = _data(_cell(nb, "# Per-node latency"))
    assert "agent" in latency[0]["text/html"]  # the per-node table of the chat graph's spans

    # The comparison with the baseline: the same scripted answers, nothing regressed.
    compared = "".join(
        d.get("text/markdown", "") for d in _data(_cell(nb, "from duragraph_lab.evals import compare"))
    )
    assert f"**0 regressed** of {len(QUESTIONS)} examples" in compared
