"""Experiments end to end, on real runs of the demo chat agent: freeze last runs into a dataset,
re-run it against the agent and against a changed agent (no tools), score with built-in and user
evaluators, see which examples regressed and why; an evaluator that raises and a run that fails
are scored as errors without sinking the experiment; an interrupted experiment resumes without
re-running what already ran."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient
from duragraph_lab.client import models as m
from duragraph_lab.client.errors import DuraGraphClientError
from duragraph_lab.evals import (
    Example,
    Outcome,
    compare,
    contains,
    exact_match,
    run_experiment,
    step_budget,
    trajectory_match,
)
from tests.apiserver import ApiServer

QUESTIONS = ["what is 6 * 7", "what is 2 + 2", "hello there"]


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def dataset(client: DuraGraphClient) -> str:
    """Last week's runs: three chats, frozen into a dataset."""
    tag = uuid.uuid4().hex
    for text in QUESTIONS:
        client.runs.wait(
            None, "chat", input={"messages": [{"role": "user", "content": text}]}, metadata={"tag": tag}
        )
    name = f"chats-{tag[:8]}"
    client.datasets.create(name, run_metadata={"tag": tag}, graph_id="chat")
    return name


def picky(example: Example, outcome: Outcome) -> Any:
    """A user's evaluator with a bug: it raises on greetings."""
    if "hello" in str(example.inputs):
        raise KeyError("greeting")
    return {"score": 1.0, "comment": "ok"}


EVALUATORS = [
    exact_match("messages.-1.content"),
    trajectory_match(["agent", "tools", "agent"], mode="prefix"),
    trajectory_match(),  # against the source run's own path
    step_budget(10),
    picky,
]


def test_experiment_scores_every_example_and_records_it(client: DuraGraphClient, dataset: str) -> None:
    seen: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def progress(done: int, total: int, result: m.ExperimentResult) -> None:
        with lock:
            seen.append((done, total, result.example_id))

    report = run_experiment(
        client, dataset, "chat", EVALUATORS, concurrency=2, progress=progress, name="baseline"
    )
    experiment = report.experiment
    assert not report.unrecorded, report.unrecorded
    assert (experiment.status, experiment.result_count, experiment.example_count) == ("completed", 3, 3)
    assert sorted(d for d, _, _ in seen) == [1, 2, 3] and all(t == 3 for _, t, _ in seen)
    frame = report.frame()
    assert list(frame["index"]) == [0, 1, 2]
    # Same agent, same answers: every exact match passes; the greeting's evaluator bug is an error
    # for that example only.
    assert list(frame["passed:exact_match(messages.-1.content)"]) == [True, True, True]
    assert list(frame["passed:trajectory_match(nodes, exact)"]) == [True, True, True]
    assert list(frame["verdict"]) == ["passed", "passed", "error"]
    assert experiment.errors == 1 and experiment.passed == 2
    greeting = report.results[2]
    picky_score = next(s for s in greeting.scores if s["name"] == "picky")
    assert picky_score["error"] and "KeyError" in picky_score["error"]
    # Runs are ordinary durable runs, tagged with the experiment and the example.
    runs = client.runs.search(metadata={"experiment_id": report.experiment_id}, limit=10)
    assert len(runs) == 3 and {r.status for r in runs} == {"success"}
    # The evaluators are recorded with the experiment (what an export rebuilds).
    names = [e["name"] for e in experiment.evaluators]
    assert names[0] == "exact_match(messages.-1.content)" and names[-1] == "picky"
    assert experiment.evaluators[-1]["source"].startswith("def picky(")
    summary = report.summary()
    assert list(summary["evaluator"])[-1] == "(all: verdict)"


def test_changed_agent_regresses_and_the_comparison_says_why(client: DuraGraphClient, dataset: str) -> None:
    evaluators = [exact_match("messages.-1.content"), contains("42", path="messages.-1.content")]
    base = run_experiment(client, dataset, "chat", evaluators, progress=False)
    candidate = run_experiment(client, dataset, "chat_no_tools", evaluators, progress=False)
    report = compare(client, base, candidate)
    verdicts = {e["index"]: e["verdict"] for e in report.comparison.examples}
    # The arithmetic questions lose their calculator; the greeting is answered the same way.
    assert verdicts == {0: "regressed", 1: "regressed", 2: "unchanged"}
    first = next(e for e in report.regressed if e["index"] == 0)
    assert first["scores"]["contains(42)"]["delta"] == -1.0
    divergence = first["run"]["first_divergence"]
    # Both start with the agent node, which now answers instead of calling the calculator.
    assert divergence["index"] == 0 and divergence["reason"] == "update"
    assert divergence["base"]["node"] == divergence["candidate"]["node"] == "agent"
    assert first["run"]["steps"]["delta"] < 0
    assert any(d["path"][0] == "messages" for d in first["run"]["state_diff"])
    frame = report.frame()
    assert list(frame["verdict"]) == ["regressed", "regressed", "unchanged"]
    assert list(frame["divergence"][:2]) == ["update", "update"]
    assert "regressed" in report._repr_html_()


def test_interrupted_experiment_resumes_without_rerunning(client: DuraGraphClient, dataset: str) -> None:
    """A notebook that died mid-experiment: one example recorded, one run started but never
    recorded. Resuming joins that run and starts only the missing one."""
    exp = client.experiments.create(dataset, "chat", name="interrupted")
    examples = client.datasets.examples(dataset)
    first = client.runs.wait(None, "chat", input=examples[0].inputs)
    client.experiments.record(exp.experiment_id, examples[0].example_id, run_id=first.run_id, scores=[])
    thread = client.threads.create()
    tags = {"experiment_id": exp.experiment_id, "example_id": examples[1].example_id}
    orphan = client.runs.create(thread.thread_id, "chat", input=examples[1].inputs, metadata=tags)

    report = run_experiment(
        client, dataset, "chat", [step_budget(10)], resume=exp.experiment_id, progress=False
    )
    assert report.experiment.status == "completed" and report.experiment.result_count == 3
    by_example = {r.example_id: r for r in report.results}
    assert by_example[examples[0].example_id].run_id == first.run_id  # not re-run
    assert by_example[examples[1].example_id].run_id == orphan.run_id  # joined, not restarted
    assert len(client.runs.search(metadata={"experiment_id": exp.experiment_id}, limit=10)) == 2


def test_run_that_cannot_start_is_an_error_not_a_failed_experiment(
    client: DuraGraphClient, dataset: str
) -> None:
    source = client.datasets.examples(dataset)[0]
    name = f"mixed-{uuid.uuid4().hex[:8]}"
    client.datasets.create(
        name,
        ids=[source.run_id],
        examples=[{"inputs": {"no_such_channel": 1}, "outputs": None}],  # the graph refuses it
    )
    report = run_experiment(client, name, "chat", [step_budget(10)], progress=False)
    assert report.experiment.status == "completed" and not report.unrecorded
    good, bad = report.results
    assert good.verdict == "passed" and good.run_id is not None
    assert bad.verdict == "error" and bad.run_id is None and "no_such_channel" in (bad.error or "")


def test_deleted_assistant_is_a_clear_error(client: DuraGraphClient, dataset: str) -> None:
    assistant = client.assistants.create("chat", name=f"short-lived-{uuid.uuid4().hex[:6]}")
    exp = client.experiments.create(dataset, assistant.assistant_id)
    client.assistants.delete(assistant.assistant_id)
    with pytest.raises(DuraGraphClientError, match="no longer exists"):
        run_experiment(client, dataset, assistant.assistant_id, resume=exp.experiment_id, progress=False)
    with pytest.raises(DuraGraphAPIError, match="no longer exists"):
        run_experiment(client, dataset, assistant.assistant_id, progress=False)


def test_experiment_against_an_older_assistant_version(
    client: DuraGraphClient, api_server: ApiServer, dataset: str
) -> None:
    """The assistant moved on to version 2; an experiment pinned to version 1 runs with version
    1's config."""
    assistant = client.assistants.create(
        "chat", name=f"versioned-{uuid.uuid4().hex[:6]}", config={"configurable": {"tone": "v1"}}
    )
    status, body, _ = api_server.request(
        "PATCH", f"/assistants/{assistant.assistant_id}", {"config": {"configurable": {"tone": "v2"}}}
    )
    assert status == 200 and body["version"] == 2
    for version, tone in ((1, "v1"), (None, "v2")):
        report = run_experiment(
            client,
            dataset,
            assistant.assistant_id,
            [step_budget(10)],
            assistant_version=version,
            progress=False,
        )
        assert report.experiment.assistant_version == (version or 2)
        assert report.experiment.config["configurable"]["tone"] == tone
        for result in report.results:
            created = client.runs.events(str(result.run_id), limit=1).events[0]
            assert created.type == "run_created"
            assert created.data["config"]["configurable"]["tone"] == tone
