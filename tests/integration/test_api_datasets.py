"""Datasets and experiments over HTTP, on real runs of the demo assistants: freezing runs into a
versioned dataset stored as events, recording an experiment's results, comparing experiments and
runs, and the errors (empty selection, name clash, unknown or deleted assistant, duplicate or
foreign results)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient
from tests.apiserver import ApiServer


def _ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def batch(client: DuraGraphClient) -> dict[str, Any]:
    """Three chat runs (one asks for a tool) and an approval run paused on its interrupt."""
    tag = uuid.uuid4().hex
    run_ids = []
    for text in ("what is 6 * 7", "hello there", "what is 2 + 2"):
        result = client.runs.wait(None, "chat", input=_ask(text), metadata={"batch": tag})
        run_ids.append(result.run_id)
    approval = client.runs.wait(None, "approval", input=_ask("delete it"), metadata={"batch": tag})
    return {"tag": tag, "chat": run_ids, "approval": approval.run_id}


def _status(err: pytest.ExceptionInfo[DuraGraphAPIError]) -> tuple[int, str]:
    return err.value.status, err.value.code


def test_freeze_runs_into_a_versioned_dataset_stored_as_events(
    client: DuraGraphClient, batch: dict[str, Any]
) -> None:
    name = f"chat-{batch['tag'][:8]}"
    dataset = client.datasets.create(
        name, graph_id="chat", run_metadata={"batch": batch["tag"]}, metadata={"team": "qa"}, description="v1"
    )
    assert dataset.name == name and dataset.version == 1 and dataset.example_count == 3
    assert dataset.metadata == {"team": "qa"}
    examples = client.datasets.examples(name)
    assert [e.run_id for e in examples] == batch["chat"]  # oldest first
    first = examples[0]
    assert first.inputs["messages"][0]["content"] == "what is 6 * 7"
    assert first.source is not None and first.source["status"] == "success"
    # The outputs are the run's final state; the nodes its per-node results, in order.
    assert first.outputs["messages"][-1]["type"] == "ai"
    assert [n["node"] for n in first.nodes][:1] == ["agent"]
    assert first.trajectory[0] == "agent" and "tools" in first.trajectory
    assert "calculator" in first.tool_calls
    assert first.latency_ms is not None and first.latency_ms > 0 and first.steps and first.steps >= 2

    # A second version: hand-written examples plus the approval run; version 1 is unchanged.
    v2 = client.datasets.add_version(
        name,
        ids=[batch["approval"]],
        status="interrupted",
        examples=[{"inputs": _ask("hi"), "outputs": None}],
    )
    assert v2.version == 2 and v2.example_count == 2
    assert [v.version for v in v2.versions] == [1, 2]
    assert v2.versions[1].selection is not None and v2.versions[1].selection["status"] == "interrupted"
    assert len(client.datasets.examples(name, version=1)) == 3
    hand = [e for e in client.datasets.examples(name) if e.source is None]
    assert len(hand) == 1 and hand[0].inputs == _ask("hi")

    # The dataset is its event stream: created + one event per version, auditable over HTTP.
    log = client.datasets.events(name)
    assert [e.type for e in log] == ["dataset_created", "dataset_version_added", "dataset_version_added"]
    assert [e.version for e in log] == [1, 2, 3]
    assert log[1].seq == v2.versions[0].seq and log[2].data["version"] == 2
    assert len(log[1].data["examples"]) == 3

    listed = client.datasets.list(name=batch["tag"][:8])
    assert [d.name for d in listed] == [name]
    assert client.datasets.get(dataset.dataset_id).name == name


def test_dataset_bad_input(client: DuraGraphClient, batch: dict[str, Any]) -> None:
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.create(f"empty-{batch['tag'][:8]}", run_metadata={"batch": "no such batch"})
    assert _status(err) == (422, "empty_selection")
    assert "no run matches" in err.value.message
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.create(f"nothing-{batch['tag'][:8]}")
    assert _status(err) == (422, "empty_selection")

    name = f"clash-{batch['tag'][:8]}"
    client.datasets.create(name, ids=batch["chat"][:1])
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.create(name, ids=batch["chat"][1:2])
    assert _status(err) == (409, "dataset_exists") and "already exists" in err.value.message
    again = client.datasets.create(name, ids=batch["chat"][1:2], if_exists="new_version")
    assert again.version == 2

    for bad in ("", "../x", "x" * 300, " leading-space"):
        with pytest.raises(DuraGraphAPIError) as err:
            client.datasets.create(bad, ids=batch["chat"][:1])
        assert err.value.status == 422
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.get("no-such-dataset")
    assert err.value.status == 404
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.examples(name, version=9)
    assert err.value.status == 404

    # Deleting frees the name.
    client.datasets.delete(name)
    with pytest.raises(DuraGraphAPIError) as err:
        client.datasets.get(name)
    assert err.value.status == 404
    assert client.datasets.create(name, ids=batch["chat"][:1]).version == 1


def test_experiment_results_summary_and_comparison(client: DuraGraphClient, batch: dict[str, Any]) -> None:
    name = f"exp-{batch['tag'][:8]}"
    client.datasets.create(name, ids=batch["chat"], status="success")
    examples = client.datasets.examples(name)

    def experiment(answers: dict[int, bool]) -> str:
        exp = client.experiments.create(name, "chat", evaluators=[{"name": "correct", "builtin": "contains"}])
        assert exp.status == "running" and exp.example_count == 3 and exp.graph_id == "chat"
        for example in examples:
            rerun = client.runs.wait(None, "chat", input=example.inputs)
            ok = answers[example.index]
            scores = [{"name": "correct", "score": 1.0 if ok else 0.0, "passed": ok}]
            result = client.experiments.record(
                exp.experiment_id, example.example_id, run_id=rerun.run_id, scores=scores
            )
            assert result.verdict == ("passed" if ok else "failed")
            assert result.status == "success" and result.nodes and result.outputs["messages"]
            # Recording the same result again is a no-op; a different one is refused.
            same = client.experiments.record(
                exp.experiment_id, example.example_id, run_id=rerun.run_id, scores=scores
            )
            assert same.seq == result.seq
            with pytest.raises(DuraGraphAPIError) as err:
                client.experiments.record(
                    exp.experiment_id, example.example_id, run_id=rerun.run_id, scores=[]
                )
            assert err.value.status == 409
        return client.experiments.complete(exp.experiment_id).experiment_id

    base = experiment({0: True, 1: True, 2: True})
    candidate = experiment({0: True, 1: False, 2: True})
    summary = client.experiments.get(candidate)
    assert (summary.status, summary.result_count, summary.passed, summary.failed) == ("completed", 3, 2, 1)
    assert summary.mean_scores == {"correct": pytest.approx(2 / 3)}
    assert [e.experiment_id for e in client.experiments.list(dataset=name)] == [candidate, base]

    comparison = client.experiments.compare(base, candidate)
    assert comparison.summary["regressed"] == 1 and comparison.summary["unchanged"] == 2
    (regressed,) = comparison.regressed
    assert regressed["index"] == 1 and regressed["scores"]["correct"]["delta"] == -1.0
    assert regressed["run"] is not None and "first_divergence" in regressed["run"]

    frame = client.experiments.results_frame(candidate)
    assert list(frame["verdict"]) == ["passed", "failed", "passed"]
    assert list(frame["score:correct"]) == [1.0, 0.0, 1.0]

    # A completed experiment takes no more results.
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.record(candidate, examples[0].example_id, status="error", error="late")
    assert err.value.status == 409


def test_experiment_bad_input(client: DuraGraphClient, batch: dict[str, Any]) -> None:
    name = f"bad-{batch['tag'][:8]}"
    client.datasets.create(name, ids=batch["chat"][:1])
    for kwargs, status in (
        ({"dataset": "no-such-dataset", "assistant_id": "chat"}, 404),
        ({"dataset": name, "assistant_id": "no-such-graph"}, 404),
        ({"dataset": name, "assistant_id": "chat", "dataset_version": 7}, 404),
        ({"dataset": name, "assistant_id": "chat", "assistant_version": 99}, 404),
    ):
        with pytest.raises(DuraGraphAPIError) as err:
            client.experiments.create(**kwargs)
        assert err.value.status == status, kwargs

    # An assistant deleted since: "no longer exists".
    assistant = client.assistants.create("chat", name=f"doomed-{batch['tag'][:6]}")
    client.assistants.delete(assistant.assistant_id)
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.create(name, assistant.assistant_id)
    assert err.value.status == 404 and "no longer exists" in err.value.message

    exp = client.experiments.create(name, "chat")
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.record(exp.experiment_id, "not-an-example", status="error", error="x")
    assert err.value.status == 404
    example = client.datasets.examples(name)[0]
    with pytest.raises(DuraGraphAPIError) as err:  # no run and no reason
        client.experiments.record(exp.experiment_id, example.example_id)
    assert err.value.status == 422
    # A run that could not even start is recorded as an error, not a failure of the experiment.
    failed = client.experiments.record(exp.experiment_id, example.example_id, status="error", error="boom")
    assert failed.verdict == "error" and failed.run_id is None
    assert client.experiments.get(exp.experiment_id).errors == 1
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.compare(exp.experiment_id, str(uuid.uuid4()))
    assert err.value.status == 404


def test_compare_two_runs(client: DuraGraphClient, batch: dict[str, Any]) -> None:
    a, b, c = batch["chat"]
    same = client.runs.compare(a, a)
    assert same["first_divergence"] is None and same["state_diff"] == []
    assert same["latency_ms"]["delta"] == 0
    different = client.runs.compare(a, b)  # a used the calculator, b did not
    divergence = different["first_divergence"]
    assert divergence is not None and divergence["reason"] in {"update", "node", "missing"}
    assert different["state_diff"] and different["steps"]["delta"] is not None
    outcome = client.runs.outcome(c)
    assert outcome.status == "success" and outcome.trajectory[0] == "agent"
    with pytest.raises(DuraGraphAPIError) as err:
        client.runs.compare(a, str(uuid.uuid4()))
    assert err.value.status == 404


def test_experiment_notebook_export(client: DuraGraphClient, batch: dict[str, Any]) -> None:
    import json

    import nbformat

    name = f"nb-{batch['tag'][:8]}"
    client.datasets.create(name, ids=batch["chat"][:1])
    evaluators = [
        {
            "name": "exact_match(messages.-1.content)",
            "builtin": "exact_match",
            "kwargs": {"path": "messages.-1.content"},
        }
    ]
    exp = client.experiments.create(name, "chat", evaluators=evaluators)
    first = client.experiments.notebook(exp.experiment_id)
    assert first == client.experiments.notebook(exp.experiment_id)  # byte-stable
    nb = nbformat.reads(first.decode(), as_version=4)
    nbformat.validate(nb)
    text = json.dumps(nb)
    assert name in text and exp.experiment_id in text and "exact_match" in text
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    # Nothing to score with: a clear 422, not a broken notebook.
    bare = client.experiments.create(name, "chat")
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.notebook(bare.experiment_id)
    assert err.value.status == 422 and "cannot be exported" in err.value.message
    with pytest.raises(DuraGraphAPIError) as err:
        client.experiments.notebook(str(uuid.uuid4()))
    assert err.value.status == 404
