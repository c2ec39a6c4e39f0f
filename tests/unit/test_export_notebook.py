"""The exported evaluation notebook: byte-stable, valid, parameterised, evaluators as code (issue 8)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat
import pytest

from duragraph_lab.evals import (
    EvaluatorError,
    Example,
    Outcome,
    contains,
    evaluate,
    exact_match,
    latency_budget,
    llm_judge,
    numeric_tolerance,
    trajectory_match,
)
from duragraph_lab.evals.export import ExportError, export_notebook, notebook_bytes
from duragraph_lab.evals.specs import evaluator_spec


def answer_within_one(example: Example, outcome: Outcome) -> dict[str, Any]:
    """A user's evaluator, pasted into the notebook as its source."""
    got, want = outcome.outputs.get("answer"), example.expected.get("answer")
    return {"score": 1.0 if abs(got - want) <= 1 else 0.0, "comment": f"{got} vs {want}"}


answer_within_one.threshold = 0.5  # type: ignore[attr-defined]

EVALUATORS: list[Any] = [
    exact_match("answer"),
    contains("Paris", path="messages.-1.content"),
    numeric_tolerance("answer", abs_tol=0.5),
    trajectory_match(["agent", "tools"], mode="prefix"),
    latency_budget(500),
    llm_judge("the answer is correct", threshold=0.7),
    answer_within_one,
]
ARGS: dict[str, Any] = {"dataset": "capitals", "assistant": "chat", "evaluators": EVALUATORS}


def export(**overrides: Any) -> bytes:
    return notebook_bytes(export_notebook(**{**ARGS, **overrides}))


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_the_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    first, second = export(), export()
    assert first == second
    assert first.endswith(b"}\n") and not first.endswith(b"\n\n")
    written = tmp_path / "eval.ipynb"
    returned = export_notebook(written, **ARGS)
    assert written.read_bytes() == first == notebook_bytes(returned)
    # Callables or their specs: the same notebook.
    assert export(evaluators=[evaluator_spec(fn) for fn in EVALUATORS]) == first


@pytest.mark.parametrize(
    "change",
    [
        {"dataset": "capitals-2"},
        {"dataset_version": 2},
        {"assistant": "agent"},
        {"assistant_version": 3},
        {"server_url": "http://127.0.0.1:8888/"},
        {"experiment_name": "nightly"},
        {"baseline": "0b7f3a52-0000-4000-8000-000000000000"},
        {"concurrency": 8},
        {"title": "Capitals"},
        {"evaluators": EVALUATORS[:-1]},
        {"evaluators": [exact_match("answer", expected="city"), *EVALUATORS[1:]]},
    ],
)
def test_a_different_argument_gives_different_bytes(change: dict[str, Any]) -> None:
    assert export(**change) != export()


def test_cell_ids_are_unique_and_derived_from_the_arguments() -> None:
    ids = [cell.id for cell in export_notebook(**ARGS).cells]
    assert len(set(ids)) == len(ids)
    other = [cell.id for cell in export_notebook(**{**ARGS, "concurrency": 2}).cells]
    assert set(ids).isdisjoint(other)


def test_a_valid_nbformat_4_5_notebook_for_python3_without_outputs_or_clock() -> None:
    data = export()
    nb = nbformat.reads(data.decode(), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert b"created" not in data and b"timestamp" not in data.lower()
    for source in code_cells(nb):
        ast.parse(source)  # every code cell is Python
    assert nb.metadata.duragraph.export["dataset"] == "capitals"
    assert [e["name"] for e in nb.metadata.duragraph.evaluators][-1] == "answer_within_one"


def test_the_parameters_cell_is_tagged_and_holds_every_parameter() -> None:
    nb = export_notebook(
        **ARGS, dataset_version=2, baseline="exp-1", server_url="http://h:8888/?token=s3cr3t&a=1"
    )
    tagged = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    namespace: dict[str, Any] = {}
    exec(tagged[0].source, namespace)
    assert {k: v for k, v in namespace.items() if k.isupper()} == {
        "SERVER_URL": "http://h:8888/?a=1",  # the token is not written into the notebook
        "DATASET": "capitals",
        "DATASET_VERSION": 2,
        "ASSISTANT": "chat",
        "ASSISTANT_VERSION": None,
        "EXPERIMENT_NAME": None,
        "BASELINE": "exp-1",
        "CONCURRENCY": 4,
    }
    assert "s3cr3t" not in notebook_bytes(nb).decode()
    # Parameters come before the cells that use them, and the cells use them.
    sources = [cell.source for cell in nb.cells]
    position = sources.index(tagged[0].source)
    later = "\n".join(sources[position + 1 :])
    for name in (
        "SERVER_URL",
        "DATASET_VERSION",
        "ASSISTANT_VERSION",
        "EXPERIMENT_NAME",
        "BASELINE",
        "CONCURRENCY",
    ):
        assert name in later


def test_the_evaluators_cell_rebuilds_the_same_evaluators() -> None:
    nb = export_notebook(**ARGS)
    (cell,) = [source for source in code_cells(nb) if "EVALUATORS = [" in source]
    assert 'exact_match("answer")' in cell
    assert 'contains("Paris", path="messages.-1.content")' in cell
    assert 'trajectory_match(["agent", "tools"], mode="prefix")' in cell
    assert "def answer_within_one(example: Example, outcome: Outcome)" in cell  # the user's source
    assert "answer_within_one.threshold = 0.5" in cell
    namespace: dict[str, Any] = {}
    # As a kernel runs it: without this test module's `from __future__ import annotations`.
    exec(compile(cell, "<cell>", "exec", dont_inherit=True), namespace)
    rebuilt = namespace["EVALUATORS"]
    example = Example(inputs={}, expected={"answer": 42, "trajectory": ["agent"]})
    outcomes = [
        Outcome(
            outputs={"answer": 42, "messages": [{"content": "Paris"}]},
            trajectory=["agent", "tools"],
            latency_ms=80,
        ),
        Outcome(
            outputs={"answer": 41.2, "messages": [{"content": "Rome"}]}, trajectory=["x"], latency_ms=900
        ),
    ]
    for outcome in outcomes:
        for original, copy in zip(
            EVALUATORS[:-2] + EVALUATORS[-1:], rebuilt[:-2] + rebuilt[-1:], strict=True
        ):
            assert evaluate(copy, example, outcome) == evaluate(original, example, outcome)
    assert rebuilt[-2].threshold == 0.7  # the judge (its model: the configured one)


def test_only_the_builtins_used_are_imported_without_user_functions() -> None:
    nb = export_notebook(**{**ARGS, "evaluators": [exact_match("answer"), latency_budget(250)]})
    (cell,) = [source for source in code_cells(nb) if "EVALUATORS = [" in source]
    assert cell.startswith("from duragraph_lab.evals import exact_match, latency_budget\n")


def test_a_lambda_evaluator_is_refused_at_export_time(tmp_path: Path) -> None:
    target = tmp_path / "eval.ipynb"
    with pytest.raises(EvaluatorError, match="a lambda"):
        export_notebook(target, **{**ARGS, "evaluators": [exact_match("a"), lambda example, outcome: True]})
    assert not target.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": ""}, "dataset: a non-empty string"),
        ({"assistant": None}, "assistant: a non-empty string"),
        ({"evaluators": []}, "at least one evaluator"),
        ({"evaluators": exact_match("a")}, "a list of evaluators"),
        ({"dataset_version": 0}, "dataset_version: a version number"),
        ({"assistant_version": "2"}, "assistant_version: a version number"),
        ({"concurrency": 0}, "concurrency: a whole number"),
        ({"server_url": "localhost:8888"}, "server_url: an http"),
        ({"evaluators": [{"name": "x", "builtin": "nope"}]}, "unknown built-in"),
        ({"evaluators": [{"name": "x", "builtin": "contains", "kwargs": {"txt": 1}}]}, "bad kwargs"),
    ],
)
def test_bad_arguments_are_clear_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(EvaluatorError, match=message):
        export_notebook(**{**ARGS, **change})


def test_two_user_functions_with_one_name_are_refused() -> None:
    def answer_within_one(example: Example, outcome: Outcome) -> bool:  # shadows the module's
        return True

    with pytest.raises(ExportError, match="two different functions are named answer_within_one"):
        export_notebook(**{**ARGS, "evaluators": [*EVALUATORS, answer_within_one]})
    # The same function listed twice is pasted once.
    nb = export_notebook(**{**ARGS, "evaluators": [*EVALUATORS, EVALUATORS[-1]]})
    (cell,) = [source for source in code_cells(nb) if "EVALUATORS = [" in source]
    assert cell.count("def answer_within_one") == 1 and cell.count("    answer_within_one,") == 2


def test_a_judge_whose_model_was_not_recorded_says_so_in_the_notebook() -> None:
    from duragraph_lab.llm.openai_compat import OpenAIChatModel
    from duragraph_lab.llm.scripted import ScriptedChatModel

    judges = [
        llm_judge("polite?", model=ScriptedChatModel(["PASS"]), name="scripted_judge"),
        llm_judge("correct?", model=OpenAIChatModel("gpt-4o", base_url="http://127.0.0.1:9", api_key="sk-x")),
    ]
    nb = export_notebook(**{**ARGS, "evaluators": judges})
    (cell,) = [source for source in code_cells(nb) if "EVALUATORS = [" in source]
    assert "# The judge's model (ScriptedChatModel) was not recorded: the configured model is used." in cell
    assert 'llm_judge("polite?", model=None, name="scripted_judge")' in cell
    assert 'llm_judge("correct?", model=OpenAIChatModel("gpt-4o"))' in cell
    assert "from duragraph_lab.llm.openai_compat import OpenAIChatModel" in cell
    assert "sk-x" not in notebook_bytes(nb).decode()
