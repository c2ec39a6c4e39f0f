"""Experiments the server runs itself (POST /experiments/{id}/run), against a real `serve` with the
demo chat agent: built-in evaluators scored on the server, the same results as the notebook's
runner; a Python function evaluator refused (422) before anything is recorded; a completed one is
a 409; a deleted assistant makes every example an error without sinking the experiment; and a
server killed in the middle resumes the experiment when it starts again, joining the runs it had
started (no example runs twice)."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient
from duragraph_lab.client import models as m
from duragraph_lab.evals import (
    EvaluatorError,
    contains,
    exact_match,
    run_experiment,
    step_budget,
    trajectory_match,
)
from duragraph_lab.evals.specs import evaluator_spec
from tests.apiserver import ApiServer

QUESTIONS = ["what is 6 * 7", "what is 2 + 2", "hello there"]
BUILTINS = [
    exact_match("messages.-1.content"),
    contains("42", path="messages.-1.content"),
    trajectory_match(),
    step_budget(10),
]


def _client(server: ApiServer) -> DuraGraphClient:
    return DuraGraphClient(f"http://127.0.0.1:{server.port}/", token=server.token, timeout=60)


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with _client(api_server) as c:
        yield c


def _dataset(client: DuraGraphClient, questions: list[str] = QUESTIONS) -> str:
    tag = uuid.uuid4().hex
    for text in questions:
        client.runs.wait(
            None, "chat", input={"messages": [{"role": "user", "content": text}]}, metadata={"tag": tag}
        )
    name = f"server-{tag[:8]}"
    client.datasets.create(name, run_metadata={"tag": tag}, graph_id="chat")
    return name


@pytest.fixture(scope="module")
def dataset(client: DuraGraphClient) -> str:
    return _dataset(client)


def wait_completed(client: DuraGraphClient, experiment_id: str, timeout: float = 120) -> m.Experiment:
    deadline = time.monotonic() + timeout
    while True:
        experiment = client.experiments.get(experiment_id)
        if experiment.status == "completed":
            return experiment
        assert time.monotonic() < deadline, f"not completed in {timeout}s: {experiment}"
        time.sleep(0.2)


def _create(client: DuraGraphClient, dataset: str, assistant: str, evaluators: list[Any], **kw: Any) -> str:
    specs = [evaluator_spec(e) for e in evaluators]
    return client.experiments.create(dataset, assistant, evaluators=specs, **kw).experiment_id


def test_the_server_runs_scores_and_records_like_the_notebook(
    client: DuraGraphClient, dataset: str, api_server: ApiServer
) -> None:
    eid = _create(client, dataset, "chat", BUILTINS, concurrency=2, name="on the server")
    status, accepted, _ = api_server.request("POST", f"/experiments/{eid}/run")
    assert status == 202, (status, accepted)  # accepted: it runs after the answer
    assert accepted["runner"] == "server" and accepted["status"] == "running"
    experiment = wait_completed(client, eid)
    assert (experiment.result_count, experiment.example_count, experiment.runner) == (3, 3, "server")
    assert not experiment.running  # its lock is released once it is done
    results = client.experiments.results(eid)
    assert [r.index for r in results] == [0, 1, 2]
    assert all(r.run_id and r.status == "success" for r in results)
    # The same evaluators, run by the notebook's runner on the same dataset: the same scores.
    notebook = run_experiment(client, dataset, "chat", BUILTINS, progress=False)
    mine = {r.index: [(s["name"], s["score"], s["passed"]) for s in r.scores] for r in results}
    theirs = {r.index: [(s["name"], s["score"], s["passed"]) for s in r.scores] for r in notebook.results}
    assert mine == theirs
    assert [r.verdict for r in results] == [r.verdict for r in notebook.results]
    # Durable runs of their own, tagged with the experiment and example.
    runs = client.runs.search(metadata={"experiment_id": eid}, limit=10)
    assert len(runs) == 3 and {r.metadata["example_id"] for r in runs} == {r.example_id for r in results}
    # Its history says who ran it.
    with pytest.raises(DuraGraphAPIError) as again:
        client.experiments.run(eid)
    assert again.value.status == 409 and "completed" in str(again.value)


def test_a_python_evaluator_is_refused_before_anything_runs(client: DuraGraphClient, dataset: str) -> None:
    def mine(example: Any, outcome: Any) -> float:
        return 1.0

    eid = _create(client, dataset, "chat", [contains("4"), mine])
    with pytest.raises(DuraGraphAPIError) as refused:
        client.experiments.run(eid)
    assert refused.value.status == 422
    assert "'mine' is a Python function" in str(refused.value) and "run_experiment" in str(refused.value)
    experiment = client.experiments.get(eid)
    assert (experiment.runner, experiment.result_count) == ("client", 0)
    assert client.runs.search(metadata={"experiment_id": eid}, limit=10) == []
    with pytest.raises(DuraGraphAPIError) as unknown:
        client.experiments.run(str(uuid.uuid4()))
    assert unknown.value.status == 404


def test_a_deleted_assistant_makes_each_example_an_error(client: DuraGraphClient, dataset: str) -> None:
    assistant = client.assistants.create("chat", name=f"doomed-{uuid.uuid4().hex[:6]}")
    eid = _create(client, dataset, assistant.assistant_id, [contains("4")])
    client.assistants.delete(assistant.assistant_id)
    client.experiments.run(eid)
    experiment = wait_completed(client, eid)
    assert (experiment.errors, experiment.result_count) == (3, 3)
    for result in client.experiments.results(eid):
        assert result.verdict == "error" and "no longer exists" in str(result.error)


def test_a_killed_server_resumes_the_experiment_when_it_starts_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A slow model (a second before each answer: a run takes two seconds or more, the experiment
    # three waves of them), so the kill lands while runs are in flight even on a loaded machine;
    # with fast tokens the whole experiment could end before the test looked. The dataset is
    # written by hand, so building it runs nothing at that pace.
    slow = {"DURAGRAPH_LLM_TOKEN_DELAY": "0.05", "DURAGRAPH_LLM_FIRST_TOKEN_DELAY": "1"}
    # The runs in flight at the kill are taken over once their worker lease expires: a 4 s lease
    # rather than the default 30 s, which the test otherwise spent waiting.
    lease = ["--DuraGraphApp.worker_lease_ttl=4"]
    first = ApiServer(data_dir, env=slow, extra=lease).start()
    try:
        with _client(first) as c:
            dataset = f"killed-{uuid.uuid4().hex[:8]}"
            asks = [{"messages": [{"role": "user", "content": f"what is {i} + {i}"}]} for i in range(6)]
            c.datasets.create(dataset, examples=[{"inputs": ask} for ask in asks])
            eid = _create(c, dataset, "chat", [contains("+"), step_budget(10)], concurrency=2)
            c.experiments.run(eid)
            deadline = time.monotonic() + 60
            while not c.runs.search(metadata={"experiment_id": eid}, limit=10):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert c.experiments.get(eid).running
        first.signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    second = ApiServer(data_dir, env=slow, extra=lease).start()
    try:
        with _client(second) as c:
            experiment = wait_completed(c, eid)
            assert (experiment.result_count, experiment.example_count) == (6, 6)
            runs = c.runs.search(metadata={"experiment_id": eid}, limit=50)
            # One run per example: those started before the kill were joined, not started again.
            assert len(runs) == 6
            assert sorted(r.metadata["example_id"] for r in runs) == sorted(
                r.example_id for r in c.experiments.results(eid)
            )
            assert all(r.run_id for r in c.experiments.results(eid))
    finally:
        second.kill()


def test_a_notebook_hands_the_experiment_to_the_server(client: DuraGraphClient, dataset: str) -> None:
    seen: list[tuple[int, int]] = []
    report = run_experiment(
        client, dataset, "chat", BUILTINS, on_server=True, progress=lambda d, t, _r: seen.append((d, t))
    )
    assert (report.experiment.runner, report.experiment.status, len(report.results)) == (
        "server",
        "completed",
        3,
    )
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    assert list(report.frame()["verdict"]) == [r.verdict for r in report.results]

    def local(example: Any, outcome: Any) -> float:
        return 1.0

    with pytest.raises(EvaluatorError, match="local run here"):
        run_experiment(client, dataset, "chat", [contains("4"), local], on_server=True)


def test_a_builtin_that_does_not_rebuild_is_refused_at_creation(
    client: DuraGraphClient, dataset: str
) -> None:
    before = len(client.experiments.list(dataset=dataset, limit=100))
    bad = [
        {"name": "regex((?<n>5))", "builtin": "regex", "kwargs": {"pattern": "(?<n>5)"}},
        {"name": "nope", "builtin": "no_such_builtin", "kwargs": {}},
        {"name": "contains", "builtin": "contains", "kwargs": {"text": "x", "unknown": 1}},
    ]
    for spec in bad:
        with pytest.raises(DuraGraphAPIError) as refused:
            client.experiments.create(dataset, "chat", evaluators=[spec])
        assert refused.value.status == 422, spec
        assert repr(spec["name"]) in str(refused.value)
    # Nothing was written: no orphan experiment left "running" for a runner that cannot score it.
    assert len(client.experiments.list(dataset=dataset, limit=100)) == before
