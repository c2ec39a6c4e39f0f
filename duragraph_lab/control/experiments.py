"""Experiments: a dataset version re-run against an assistant version, scored example by example.

An experiment is the event stream ``experiment:<uuid>``: ``experiment_created``, one
``experiment_result_recorded`` per example, ``experiment_run_requested`` when the server runs
it, ``experiment_completed``. The ``experiments`` and ``experiment_results`` tables are its
read models (:class:`ExperimentReadModel`).

The runs of an experiment are ordinary durable runs, started and scored by a runner (the
notebook's, whose evaluators are the user's Python functions, or the server's: see
:mod:`duragraph_lab.evals.loop`); this module checks and records what the runner reports,
reading the facts of each run (status, outputs, nodes, latency) from its event log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.datasets import Datasets
from duragraph_lab.control.outcomes import Outcomes
from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import Conflict, InvalidRequest, NotFound, ReadModelConflict
from duragraph_lab.domain.ids import as_uuid
from duragraph_lab.domain.plain import iso, plain
from duragraph_lab.evals import diff as cmp
from duragraph_lab.evals import export
from duragraph_lab.evals.evaluators import EvaluatorError
from duragraph_lab.evals.loop import ExampleResult
from duragraph_lab.evals.specs import evaluator_from_spec


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    """An experiment as the ``experiments`` read model has it, with its mean scores."""

    experiment_id: str
    name: str
    dataset_id: str
    dataset_name: str
    dataset_version: int
    assistant_id: str
    assistant_version: int | None
    graph_id: str
    config: Any
    evaluators: Any
    concurrency: int
    metadata: Any
    status: str
    example_count: int
    result_count: int
    passed: int
    failed: int
    errors: int
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    #: Who runs it: "client" (a notebook) or "server".
    runner: str
    #: A server is running it now.
    running: bool
    #: Mean numeric score by evaluator.
    mean_scores: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "dataset_version": self.dataset_version,
            "assistant_id": self.assistant_id,
            "assistant_version": self.assistant_version,
            "graph_id": self.graph_id,
            "config": plain(self.config or {}),
            "evaluators": plain(self.evaluators or []),
            "concurrency": self.concurrency,
            "metadata": plain(self.metadata or {}),
            "status": self.status,
            "example_count": self.example_count,
            "result_count": self.result_count,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "mean_scores": dict(self.mean_scores),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
            "runner": self.runner,
            "running": bool(self.running),
        }


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """One example's result (a row of ``experiment_results``)."""

    experiment_id: str
    example_id: str
    index: int
    run_id: str | None
    status: str
    verdict: str
    outputs: Any
    error: str | None
    scores: Any
    latency_ms: float | None
    steps: int | None
    nodes: Any
    recorded_at: dt.datetime
    seq: int

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "example_id": self.example_id,
            "index": self.index,
            "run_id": self.run_id,
            "status": self.status,
            "verdict": self.verdict,
            "outputs": plain(self.outputs),
            "error": self.error,
            "scores": plain(self.scores or []),
            "latency_ms": self.latency_ms,
            "steps": self.steps,
            "nodes": plain(self.nodes or []),
            "recorded_at": iso(self.recorded_at),
            "seq": self.seq,
        }


@dataclass(frozen=True, slots=True)
class NewExperiment:
    #: A dataset id or name, and its version (None: the latest).
    dataset: str
    #: An assistant id (or a graph id: its default assistant), and its version (None: the latest).
    assistant_id: str
    dataset_version: int | None = None
    assistant_version: int | None = None
    name: str | None = None
    #: Evaluator specs (see :mod:`duragraph_lab.evals.specs`).
    evaluators: Sequence[Mapping[str, Any]] = ()
    concurrency: int = 4
    metadata: Mapping[str, Any] | None = None


class ExperimentReadModel(Protocol):
    async def experiment(self, experiment_id: str) -> ExperimentRecord | None: ...

    async def search(self, *, dataset_id: str | None, limit: int, offset: int) -> list[ExperimentRecord]:
        """Newest first."""
        ...

    async def results(self, experiment_id: str) -> list[ResultRecord]:
        """In example order."""
        ...

    async def result(self, experiment_id: str, example_id: str) -> ResultRecord | None: ...

    async def started_runs(self, experiment_id: str) -> dict[str, str]:
        """The runs started for the experiment, by example (the newest per example)."""
        ...

    async def unfinished_on_server(self) -> list[str]:
        """Server-run experiments not completed yet, oldest first (a bounded batch)."""
        ...


class Experiments:
    def __init__(
        self,
        events: EventStore,
        read_model: ExperimentReadModel,
        datasets: Datasets,
        assistants: Assistants,
        outcomes: Outcomes,
    ) -> None:
        self.events = events
        self.read_model = read_model
        self.datasets = datasets
        self.assistants = assistants
        self.outcomes = outcomes

    # -- reading -------------------------------------------------------------------------------
    async def get(self, experiment_id: str) -> dict[str, Any]:
        eid = as_uuid(experiment_id)
        found = await self.read_model.experiment(eid) if eid else None
        if found is None:
            raise NotFound(f"experiment {experiment_id} does not exist")
        return found.as_json()

    async def search(
        self, *, dataset: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[dict[str, Any]]:
        dataset_id = (await self.datasets.record(dataset)).dataset_id if dataset else None
        found = await self.read_model.search(dataset_id=dataset_id, limit=limit, offset=offset)
        return [e.as_json() for e in found]

    async def results(self, experiment_id: str) -> list[dict[str, Any]]:
        experiment = await self.get(experiment_id)
        return [r.as_json() for r in await self.read_model.results(experiment["experiment_id"])]

    async def started_runs(self, experiment_id: str) -> dict[str, str]:
        """The runs started for the experiment's examples, by example (the newest per example)."""
        return await self.read_model.started_runs(experiment_id)

    async def unfinished_on_server(self) -> list[str]:
        """Server-run experiments not completed yet (a batch, oldest first)."""
        return await self.read_model.unfinished_on_server()

    async def _result(self, experiment_id: str, example_id: str) -> dict[str, Any] | None:
        found = await self.read_model.result(experiment_id, example_id)
        return found.as_json() if found is not None else None

    # -- writing -------------------------------------------------------------------------------
    async def _assistant(self, ref: str, version: int | None) -> dict[str, Any]:
        assistant_id = self.assistants.resolve_id(ref)
        try:
            current = await self.assistants.get(assistant_id)
        except NotFound:
            existed = await self.events.stream_version(f"assistant:{assistant_id}") > 0
            raise NotFound(
                f"assistant {ref} no longer exists (deleted)"
                if existed
                else f"assistant {ref} does not exist"
            ) from None
        if version is None:
            return current
        pinned = await self.assistants.version(assistant_id, version)
        if pinned is None:
            raise NotFound(f"assistant {ref} has no version {version} (latest is {current['version']})")
        return {
            **current,
            "graph_id": pinned.graph_id,
            "config": plain(pinned.config or {}),
            "version": version,
        }

    async def create(self, new: NewExperiment) -> dict[str, Any]:
        evaluators = [dict(spec) for spec in new.evaluators]
        for spec in evaluators:
            # A built-in that would not rebuild (an unknown one, bad kwargs, a regex that does not
            # compile) is refused now, not when a runner meets it. A function's source is not run
            # here: only the notebook that records it executes it.
            if spec.get("builtin"):
                try:
                    evaluator_from_spec(spec)
                except EvaluatorError as err:
                    raise InvalidRequest(f"evaluator {spec.get('name')!r}: {err}") from None
        dataset = await self.datasets.record(new.dataset)
        version = dataset.version if new.dataset_version is None else new.dataset_version
        examples = await self.datasets.version_examples(dataset.dataset_id, version)
        assistant = await self._assistant(new.assistant_id, new.assistant_version)
        experiment_id = str(uuid.uuid4())
        name = new.name or f"{dataset.name} v{version} · {assistant['name']} · {experiment_id[:8]}"
        data: ev.ExperimentCreated = {
            "experiment_id": experiment_id,
            "name": name,
            "dataset_id": dataset.dataset_id,
            "dataset_name": dataset.name,
            "dataset_version": version,
            "assistant_id": assistant["assistant_id"],
            "assistant_version": assistant["version"],
            "graph_id": assistant["graph_id"],
            "config": assistant["config"],
            "evaluators": evaluators,
            "concurrency": new.concurrency,
            "metadata": dict(new.metadata or {}),
            "example_count": len(examples),
        }
        await self.events.append(f"experiment:{experiment_id}", 0, [ev.experiment_created(data)])
        return await self.get(experiment_id)

    async def record(self, experiment_id: str, result: ExampleResult) -> dict[str, Any]:
        """Record one example's result: its run's facts (read from the run's log, once the run
        has ended) and its scores, or (no run) why it has none. Recording the same result again
        returns it; a different one is a Conflict."""
        experiment = await self.get(experiment_id)
        experiment_id = experiment["experiment_id"]
        examples = await self.datasets.version_examples(
            experiment["dataset_id"], experiment["dataset_version"]
        )
        example = next((e for e in examples if e["example_id"] == result.example_id), None)
        if example is None:
            raise NotFound(
                f"example {result.example_id} is not in dataset {experiment['dataset_name']!r} "
                f"version {experiment['dataset_version']}"
            )
        scores = [dict(s) for s in result.scores]
        names = [s["name"] for s in scores]
        if len(set(names)) != len(names):
            raise InvalidRequest(f"each evaluator may score an example once; got {sorted(names)}")
        data: dict[str, Any] = {"example_id": result.example_id, "index": example["index"], "scores": scores}
        if result.run_id is not None:
            outcome = await self.outcomes.get(result.run_id)
            if outcome["status"] in {"pending", "running"}:
                raise Conflict(
                    f"run {result.run_id} is still {outcome['status']}: record it once it has ended"
                )
            data.update(
                run_id=outcome["run_id"],
                status=outcome["status"],
                outputs=outcome["outputs"],
                error=outcome["error"],
                latency_ms=outcome["latency_ms"],
                steps=outcome["steps"],
                nodes=outcome["nodes"],
            )
        else:
            if not result.error and result.status in (None, "success"):
                raise InvalidRequest(
                    "a result without a run_id must say what went wrong: give error (and status)"
                )
            data.update(
                run_id=None, status=result.status or "error", outputs=None, error=result.error, nodes=[]
            )
        data["verdict"] = cmp.verdict(data["status"], data["error"], scores)
        existing = await self._result(experiment_id, result.example_id)
        if existing is not None:
            return _same_or_conflict(existing, data)
        if experiment["status"] == "completed":
            raise Conflict(f"experiment {experiment_id} is completed: it takes no more results")
        try:
            await self.events.append(
                f"experiment:{experiment_id}",
                None,
                [ev.experiment_result_recorded(cast("ev.ExperimentResultRecorded", data))],
            )
        except ReadModelConflict:
            # Recorded meanwhile by a concurrent request: idempotent if it is the same result.
            existing = await self._result(experiment_id, result.example_id)
            assert existing is not None
            return _same_or_conflict(existing, data)
        found = await self._result(experiment_id, result.example_id)
        assert found is not None
        return found

    async def request_server_run(self, experiment_id: str) -> None:
        """Record that the server runs the experiment (a starting server resumes it)."""
        await self.events.append(f"experiment:{experiment_id}", None, [ev.experiment_run_requested()])

    async def complete(self, experiment_id: str) -> dict[str, Any]:
        experiment = await self.get(experiment_id)
        if experiment["status"] != "completed":
            await self.events.append(
                f"experiment:{experiment['experiment_id']}",
                None,
                [ev.experiment_completed(experiment["result_count"])],
            )
        return await self.get(experiment_id)

    # -- comparing and exporting ---------------------------------------------------------------
    async def compare(self, base_id: str, candidate_id: str) -> dict[str, Any]:
        base = await self.get(base_id)
        candidate = await self.get(candidate_id)
        if base["dataset_id"] != candidate["dataset_id"]:
            raise InvalidRequest(
                f"experiments of different datasets cannot be compared example by example "
                f"({base['dataset_name']!r} and {candidate['dataset_name']!r})"
            )
        compared = cmp.compare_results(await self.results(base_id), await self.results(candidate_id))
        return {"base": base, "candidate": candidate, **compared}

    async def compare_runs(self, base_id: str, candidate_id: str) -> dict[str, Any]:
        base = await self.outcomes.get(base_id)
        candidate = await self.outcomes.get(candidate_id)
        return cmp.compare_runs(base, candidate)

    async def notebook(self, experiment_id: str, baseline: str | None = None) -> tuple[str, bytes]:
        """The experiment as an eval notebook (file name, .ipynb bytes) that re-runs its dataset
        version against its assistant version with its evaluators; compared with ``baseline``
        (default: this experiment) when it runs."""
        experiment = await self.get(experiment_id)
        if baseline is not None:
            baseline = (await self.get(baseline))["experiment_id"]
        try:
            nb = export.export_notebook(
                dataset=experiment["dataset_name"],
                dataset_version=experiment["dataset_version"],
                assistant=experiment["assistant_id"],
                assistant_version=experiment["assistant_version"],
                evaluators=experiment["evaluators"],
                experiment_name=f"{experiment['name']} (re-run)",
                baseline=baseline or experiment["experiment_id"],
                concurrency=experiment["concurrency"],
                title=f"Evaluation: {experiment['name']}",
            )
        except EvaluatorError as err:
            raise InvalidRequest(f"experiment {experiment_id} cannot be exported: {err}") from None
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in experiment["dataset_name"])
        return f"eval-{stem}-{experiment['experiment_id'][:8]}.ipynb", export.notebook_bytes(nb)


def _same_or_conflict(existing: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    if existing["run_id"] == data.get("run_id") and existing["scores"] == plain(data["scores"]):
        return existing
    raise Conflict(
        f"example {data['example_id']} already has a different result in this experiment "
        f"(run {existing['run_id']}); results are recorded once"
    )
