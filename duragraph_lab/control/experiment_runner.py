"""Experiments the server runs itself (``POST /experiments/{id}/run``): the dashboard's "Run
experiment", and any client that has no Python of its own to score with.

The experiment loop of :mod:`duragraph_lab.evals.loop` — the notebook's loop — driven in-process
(:class:`InProcessExperiment`), with the built-in evaluators only (a function from a notebook
exists only in that kernel).

Durable: the request is an event (``experiment_run_requested``), so a server that restarts picks
up every unfinished server-run experiment; a lock held for as long as one server executes an
experiment (:class:`ExperimentLocks`) makes sure only one does (the lock goes when that server
dies). A resumed experiment joins the runs it had started and skips the examples already
recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from duragraph_lab.control.experiments import Experiments
from duragraph_lab.domain.errors import Conflict, InvalidRequest, NotFound
from duragraph_lab.evals.evaluators import Evaluator, EvaluatorError
from duragraph_lab.evals.loop import ExampleResult, Target, run_examples
from duragraph_lab.evals.specs import evaluator_from_spec

log = logging.getLogger(__name__)


class ExampleRuns(Protocol):
    """Starting and following runs in-process (the run control plane)."""

    async def start(
        self, assistant: str, input: Any, *, config: Mapping[str, Any] | None, tags: Mapping[str, Any]
    ) -> str:
        """A run of ``assistant`` (an id, or a graph id) on a new thread, both tagged with
        ``tags`` in their metadata; the run's id."""
        ...

    async def wait(self, run_id: str) -> None:
        """Until the run has ended or paused."""
        ...


class ExperimentLocks(Protocol):
    def hold(self, experiment_id: str) -> AbstractAsyncContextManager[bool]:
        """Try to take the experiment's lock for the duration of the block (True: taken, False:
        another server holds it); a lock whose holder died is free again."""
        ...


def server_scorers(specs: Sequence[Mapping[str, Any]]) -> list[Evaluator]:
    """The experiment's evaluators, rebuilt on the server: built-ins only. Raises
    :class:`InvalidRequest` (422) for a function's source or a spec that does not rebuild."""
    scorers = []
    for spec in specs:
        if not spec.get("builtin"):
            raise InvalidRequest(
                f"evaluator {spec.get('name')!r} is a Python function: the server runs built-in "
                "evaluators only. Run this experiment from the notebook that defines it "
                "(duragraph_lab.evals.run_experiment(..., resume=<experiment id>))."
            )
        try:
            scorers.append(evaluator_from_spec(spec))
        except EvaluatorError as err:
            raise InvalidRequest(f"evaluator {spec.get('name')!r}: {err}") from None
    return scorers


class InProcessExperiment:
    """The experiment loop's port on the server: the control plane's services, called directly."""

    def __init__(self, experiments: Experiments, runs: ExampleRuns, experiment: Mapping[str, Any]) -> None:
        self.experiments = experiments
        self.runs = runs
        self.experiment = experiment
        self.experiment_id = str(experiment["experiment_id"])

    async def examples(self) -> list[Mapping[str, Any]]:
        return list(
            await self.experiments.datasets.version_examples(
                self.experiment["dataset_id"], self.experiment["dataset_version"]
            )
        )

    async def recorded(self) -> set[str]:
        return {r["example_id"] for r in await self.experiments.results(self.experiment_id)}

    async def started_runs(self) -> dict[str, str]:
        return await self.experiments.started_runs(self.experiment_id)

    async def assistant(self, assistant_id: str) -> Mapping[str, Any] | None:
        try:
            return await self.experiments.assistants.get(assistant_id)
        except NotFound:
            return None

    async def start_run(self, target: Target, example: Mapping[str, Any], tags: Mapping[str, Any]) -> str:
        return await self.runs.start(target.assistant, example.get("inputs"), config=target.config, tags=tags)

    async def outcome(self, run_id: str) -> Mapping[str, Any]:
        await self.runs.wait(run_id)
        return await self.experiments.outcomes.get(run_id)

    async def record(self, result: ExampleResult) -> dict[str, Any]:
        return await self.experiments.record(self.experiment_id, result)

    async def complete(self) -> None:
        await self.experiments.complete(self.experiment_id)


class ServerExperiments:
    def __init__(self, experiments: Experiments, runs: ExampleRuns, locks: ExperimentLocks) -> None:
        self.experiments = experiments
        self.runs = runs
        self.locks = locks
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self, experiment_id: str) -> dict[str, Any]:
        """Have the server run (or finish) the experiment; answers at once."""
        experiment = await self.experiments.get(experiment_id)
        eid = experiment["experiment_id"]
        if experiment["status"] == "completed":
            raise Conflict(f"experiment {eid} is completed: nothing left to run")
        server_scorers(experiment["evaluators"])  # refuse before recording anything
        if experiment["runner"] != "server":
            await self.experiments.request_server_run(eid)
        self._ensure(eid)
        return await self.experiments.get(eid)

    async def resume_unfinished(self) -> None:
        """Start every unfinished server-run experiment no server is running (after a restart)."""
        try:
            unfinished = await self.experiments.unfinished_on_server()
        except Exception as err:  # the database being away is reported by /health
            log.debug("DuraGraph Lab: looking for experiments to resume: %s", err)
            return
        for eid in unfinished:
            self._ensure(eid)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def _ensure(self, eid: str) -> None:
        task = self._tasks.get(eid)
        if task is None or task.done():
            self._tasks[eid] = asyncio.create_task(self._locked(eid), name=f"duragraph-experiment-{eid}")

    async def _locked(self, eid: str) -> None:
        try:
            async with self.locks.hold(eid) as held:
                if not held:
                    return  # another server runs it
                await self._execute(eid)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The next reaper pass (or restart) tries again; the experiment's own errors are
            # recorded per example, so this is the database or the bus being away.
            log.exception("DuraGraph Lab: running experiment %s", eid)
        finally:
            if self._tasks.get(eid) is asyncio.current_task():
                self._tasks.pop(eid, None)

    async def _execute(self, eid: str) -> None:
        experiment = await self.experiments.get(eid)
        if experiment["status"] == "completed":
            return
        report = await run_examples(
            InProcessExperiment(self.experiments, self.runs, experiment),
            experiment,
            server_scorers(experiment["evaluators"]),
            concurrency=int(experiment["concurrency"] or 1),
            resuming=True,  # a server may have started runs before it died
            if_assistant_gone="record",
        )
        for example_id, why in report.unrecorded.items():
            log.warning("DuraGraph Lab: experiment %s, example %s: %s", eid, example_id, why)
        if report.completed:
            log.info("DuraGraph Lab: experiment %s completed on the server", eid)
