"""The experiment loop (duragraph_lab.evals.loop) over a port in memory: what the notebook's
runner (over HTTP) and the server's (in-process) both rely on — resume without re-running,
bounded concurrency, one failing example never sinks the experiment, a deleted assistant, the
pinned assistant version."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from duragraph_lab.domain.errors import DuraGraphError, NotFound
from duragraph_lab.evals.evaluators import Example, Outcome
from duragraph_lab.evals.loop import AssistantGone, ExampleResult, Target, run_examples, run_target

EXPERIMENT = {
    "experiment_id": "e1",
    "name": "nightly",
    "dataset_id": "d1",
    "assistant_id": "a1",
    "assistant_version": None,
    "graph_id": "chat",
    "config": {"configurable": {"tone": "v1"}},
}


def passes(example: Example, outcome: Outcome) -> float:
    return 1.0 if outcome.outputs.get("answer") == example.expected.get("answer") else 0.0


class Port:
    """An experiment kept in dicts; runs end as soon as they start."""

    def __init__(self, examples: int, *, recorded: dict[str, Any] | None = None) -> None:
        self._examples = [
            {"example_id": f"x{i}", "index": i, "inputs": {"n": i}, "outputs": {"answer": i * 2}}
            for i in range(examples)
        ]
        self.results: dict[str, ExampleResult] = dict(recorded or {})
        self.started: dict[str, str] = {}
        self.current: Mapping[str, Any] | None = {"assistant_id": "a1", "version": 1, "graph_id": "chat"}
        self.starts: list[tuple[Target, str, dict[str, Any]]] = []
        self.refuse_start: set[str] = set()
        self.refuse_record: set[str] = set()
        self.completed = False
        self.in_flight = 0
        self.most_in_flight = 0

    async def examples(self) -> list[Mapping[str, Any]]:
        return list(self._examples)

    async def recorded(self) -> set[str]:
        return set(self.results)

    async def started_runs(self) -> dict[str, str]:
        return dict(self.started)

    async def assistant(self, assistant_id: str) -> Mapping[str, Any] | None:
        return self.current

    async def start_run(self, target: Target, example: Mapping[str, Any], tags: Mapping[str, Any]) -> str:
        if example["example_id"] in self.refuse_start:
            raise NotFound("the graph refuses this input")
        self.starts.append((target, example["example_id"], dict(tags)))
        return f"run-{example['example_id']}"

    async def outcome(self, run_id: str) -> Mapping[str, Any]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        n = int(run_id.removeprefix("run-x"))
        return {"run_id": run_id, "outputs": {"answer": n * 2 if n != 1 else -1}, "steps": 1}

    async def record(self, result: ExampleResult) -> dict[str, Any]:
        if result.example_id in self.refuse_record:
            raise DuraGraphError("the server is away")
        self.results[result.example_id] = result
        return {"example_id": result.example_id, "run_id": result.run_id}

    async def complete(self) -> None:
        self.completed = True


async def _run(port: Port, **options: Any) -> Any:
    defaults: dict[str, Any] = {"concurrency": 2, "resuming": False, "if_assistant_gone": "raise"}
    return await run_examples(port, EXPERIMENT, [passes], **(defaults | options))


async def test_every_example_is_run_scored_and_recorded_then_the_experiment_completed() -> None:
    port = Port(4)
    seen: list[tuple[int, int]] = []
    report = await _run(port, on_recorded=lambda done, total, _r: seen.append((done, total)))
    assert report.completed and port.completed and report.unrecorded == {}
    assert sorted(seen) == [(1, 4), (2, 4), (3, 4), (4, 4)]
    scores = {k: r.scores[0]["score"] for k, r in port.results.items()}
    assert scores == {"x0": 1.0, "x1": 0.0, "x2": 1.0, "x3": 1.0}
    target, _, tags = port.starts[0]
    assert target == Target("a1", None)
    assert tags == {"experiment_id": "e1", "example_id": "x0", "dataset_id": "d1"}


async def test_at_most_concurrency_runs_at_once() -> None:
    port = Port(6)
    await _run(port, concurrency=2)
    assert port.most_in_flight == 2


async def test_a_resumed_experiment_skips_what_is_recorded_and_joins_what_was_started() -> None:
    port = Port(3, recorded={"x0": ExampleResult("x0", run_id="run-x0")})
    port.started = {"x1": "run-x1"}
    seen: list[int] = []
    report = await _run(port, on_recorded=lambda done, _t, _r: seen.append(done))
    assert [e for _, e, _ in port.starts] == ["x2"]  # x0 recorded, x1 joined
    assert port.results["x1"].run_id == "run-x1"
    assert sorted(seen) == [2, 3]  # counted after the one already recorded
    assert report.completed


async def test_started_runs_are_looked_up_only_when_an_attempt_may_have_started_some() -> None:
    port = Port(1)
    port.started = {"x0": "run-x0"}
    await _run(port)  # a fresh experiment: nothing can have started
    assert [e for _, e, _ in port.starts] == ["x0"]
    port = Port(1)
    port.started = {"x0": "run-x0"}
    await _run(port, resuming=True)
    assert port.starts == []


async def test_a_run_that_cannot_start_is_that_examples_error() -> None:
    port = Port(3)
    port.refuse_start = {"x1"}
    report = await _run(port)
    assert report.completed
    bad = port.results["x1"]
    assert (bad.run_id, bad.status, bad.scores) == (None, "error", [])
    assert bad.error == "NotFound: the graph refuses this input"
    assert port.results["x0"].run_id == "run-x0"


async def test_a_result_that_cannot_be_recorded_leaves_the_experiment_open() -> None:
    port = Port(3)
    port.refuse_record = {"x2"}
    report = await _run(port)
    assert report.unrecorded == {"x2": "DuraGraphError: the server is away"}
    assert not report.completed and not port.completed
    assert len(report.recorded) == 2


async def test_a_deleted_assistant_raises_or_is_every_examples_error() -> None:
    port = Port(2)
    port.current = None
    with pytest.raises(AssistantGone, match="assistant a1 of experiment 'nightly' no longer exists"):
        await _run(port)
    assert port.results == {} and port.starts == []
    report = await _run(port, if_assistant_gone="record")
    assert report.completed and port.starts == []
    assert {r.error for r in port.results.values()} == {
        "assistant a1 of experiment 'nightly' no longer exists"
    }
    assert {r.run_id for r in port.results.values()} == {None}


def test_a_pinned_version_runs_with_that_versions_config() -> None:
    now = {"version": 2, "graph_id": "chat"}
    assert run_target(EXPERIMENT, now) == Target("a1", None)
    assert run_target({**EXPERIMENT, "assistant_version": 2}, now) == Target("a1", None)
    pinned = {**EXPERIMENT, "assistant_version": 1}
    assert run_target(pinned, now) == Target("a1", {"configurable": {"tone": "v1"}})
    # The assistant now runs another graph: the pinned graph's default assistant runs it.
    assert run_target(pinned, {"version": 2, "graph_id": "other"}) == Target(
        "chat", {"configurable": {"tone": "v1"}}
    )


async def test_the_notebook_runs_the_loop_beside_its_own_running_loop() -> None:
    # A notebook's kernel has an event loop running: the runner must not need this one.
    from duragraph_lab.notebook.experiments import _in_thread

    port = Port(3)
    report = await asyncio.to_thread(
        lambda: _in_thread(
            run_examples(
                port, EXPERIMENT, [passes], concurrency=2, resuming=False, if_assistant_gone="raise"
            ),
            workers=2,
        )
    )
    assert report.completed and len(report.recorded) == 3
    port.current = None
    with pytest.raises(AssistantGone):
        _in_thread(
            run_examples(
                port, EXPERIMENT, [passes], concurrency=2, resuming=False, if_assistant_gone="raise"
            ),
            workers=2,
        )
