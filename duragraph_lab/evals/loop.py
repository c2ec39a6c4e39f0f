"""The experiment loop: run every example of a dataset version through an assistant, score each
run as it ends, record the result.

One loop for both runners: the notebook's (:func:`duragraph_lab.evals.run_experiment`, over the
HTTP client) and the server's (``POST /experiments/{id}/run``, in-process). Each gives it an
:class:`ExperimentPort` — start a run for an example, wait for its outcome, record a result —
and the loop does the rest, the same way:

- one durable run per example, on a thread of its own, tagged with ``metadata = {"experiment_id",
  "example_id", "dataset_id"}``; at most ``concurrency`` examples at once;
- resumable: examples already recorded are skipped, runs an earlier attempt started are joined
  (they went on without it), only what is missing is started;
- one failing example never sinks the experiment: a run that cannot be started or followed is
  recorded as an error; an evaluator that raises is a score with an ``error``;
- the experiment is completed once every example has a result.

Pure orchestration: no I/O of its own besides the port's, no HTTP, no SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.evals.evaluators import Evaluator
from duragraph_lab.evals.scoring import score_example

#: What the port gives back for a recorded result (the API's JSON, or a client model).
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Target:
    """Where an experiment's runs go: an assistant id (or a graph id), with the config to send
    (None: the assistant's own)."""

    assistant: str
    config: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """What is recorded for one example: its run and scores, or (no run) why it has none."""

    example_id: str
    run_id: str | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None
    error: str | None = None


class AssistantGone(DuraGraphError):
    """The experiment's assistant was deleted since the experiment was created."""

    code = "not_found"
    http_status = 404


class ExperimentPort(Protocol[R_co]):
    """One experiment, as the loop sees it. Experiments, examples and outcomes are the API's JSON.
    A method that cannot do its work raises a :class:`DuraGraphError`."""

    async def examples(self) -> list[Mapping[str, Any]]:
        """The examples of the experiment's dataset version, in order."""
        ...

    async def recorded(self) -> set[str]:
        """The examples that have a result already."""
        ...

    async def started_runs(self) -> dict[str, str]:
        """Runs an earlier attempt started, by example (the newest per example)."""
        ...

    async def assistant(self, assistant_id: str) -> Mapping[str, Any] | None:
        """The assistant as it is now (None: it no longer exists)."""
        ...

    async def start_run(self, target: Target, example: Mapping[str, Any], tags: Mapping[str, Any]) -> str:
        """Start a run of ``target`` on the example's inputs, on a new thread, both tagged with
        ``tags``; its id."""
        ...

    async def outcome(self, run_id: str) -> Mapping[str, Any]:
        """Once the run has ended (or paused), what it did (``GET /runs/{run_id}/outcome``)."""
        ...

    async def record(self, result: ExampleResult) -> R_co:
        """Record one example's result (``POST /experiments/{id}/results``)."""
        ...

    async def complete(self) -> None:
        """Mark the experiment completed."""
        ...


#: Called after each recorded example: (examples done, examples in all, the recorded result).
OnRecorded = Callable[[int, int, R], None]


@dataclass(frozen=True, slots=True)
class LoopReport(Generic[R]):
    #: The results recorded by this pass, in the order they were recorded.
    recorded: list[R]
    #: Examples whose result could not be recorded at all (the port refused it), with why.
    unrecorded: dict[str, str]
    #: Every example has a result and the experiment was completed.
    completed: bool


def run_target(experiment: Mapping[str, Any], current: Mapping[str, Any]) -> Target:
    """The experiment's assistant as it is, unless the experiment pinned a version other than the
    latest: then that version's graph and config (the assistant's graph, if it is still the same
    one; the pinned graph's default assistant otherwise)."""
    if experiment.get("assistant_version") in (None, current.get("version")):
        return Target(str(experiment["assistant_id"]), None)
    config = dict(experiment.get("config") or {})
    if current.get("graph_id") == experiment.get("graph_id"):
        return Target(str(experiment["assistant_id"]), config)
    return Target(str(experiment["graph_id"]), config)


async def run_examples(
    port: ExperimentPort[R],
    experiment: Mapping[str, Any],
    scorers: Sequence[Evaluator],
    *,
    concurrency: int,
    resuming: bool,
    if_assistant_gone: Literal["raise", "record"],
    on_recorded: OnRecorded[R] | None = None,
) -> LoopReport[R]:
    """Run, score and record every example of ``experiment`` that has no result yet, then
    complete it if every example has one.

    ``resuming``: an earlier attempt may have started runs (look them up even when nothing is
    recorded yet). ``if_assistant_gone``: the assistant was deleted — ``raise``
    :class:`AssistantGone` before anything runs, or ``record`` that as every example's error."""
    examples = await port.examples()
    recorded = await port.recorded()
    pending = [e for e in examples if e["example_id"] not in recorded]
    started = await port.started_runs() if recorded or resuming else {}
    current = await port.assistant(str(experiment["assistant_id"]))
    gone: str | None = None
    if current is None:
        gone = f"assistant {experiment['assistant_id']} of experiment {experiment['name']!r} no longer exists"
        if if_assistant_gone == "raise":
            raise AssistantGone(gone)
    target = run_target(experiment, current) if current is not None else None
    gate = asyncio.Semaphore(max(1, concurrency))
    done = len(recorded)
    results: list[R] = []
    unrecorded: dict[str, str] = {}

    async def one(example: Mapping[str, Any]) -> None:
        nonlocal done
        example_id = str(example["example_id"])
        async with gate:
            if target is None:
                result = ExampleResult(example_id, error=gone)
            else:
                tags = {
                    "experiment_id": experiment["experiment_id"],
                    "example_id": example_id,
                    "dataset_id": experiment["dataset_id"],
                }
                result = await _run_one(port, example, target, scorers, tags, started.get(example_id))
            try:
                value = await port.record(result)
            except DuraGraphError as err:
                unrecorded[example_id] = f"{type(err).__name__}: {err}"
                return
        done += 1
        results.append(value)
        if on_recorded is not None:
            on_recorded(done, len(examples), value)

    await asyncio.gather(*(one(e) for e in pending))
    if not unrecorded:
        await port.complete()
    return LoopReport(results, unrecorded, completed=not unrecorded)


async def _run_one(
    port: ExperimentPort[Any],
    example: Mapping[str, Any],
    target: Target,
    scorers: Sequence[Evaluator],
    tags: Mapping[str, Any],
    run_id: str | None,
) -> ExampleResult:
    example_id = str(example["example_id"])
    try:
        if run_id is None:
            run_id = await port.start_run(target, example, tags)
        outcome = await port.outcome(run_id)
    except DuraGraphError as err:
        # This example's run could not be started or followed: an error for it alone.
        return ExampleResult(example_id, status="error", error=f"{type(err).__name__}: {err}")
    # An evaluator may call a model (an LLM judge): off the event loop.
    scores = await asyncio.to_thread(score_example, scorers, example, outcome)
    return ExampleResult(example_id, run_id=run_id, scores=scores)
