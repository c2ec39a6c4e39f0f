"""Experiments the server runs itself (``POST /experiments/{id}/run``): the dashboard's "Run
experiment", and any client that has no Python of its own to score with.

The same steps as the notebook's :func:`duragraph_lab.evals.run_experiment` — one durable run per
example on a thread of its own, at most ``concurrency`` at once, scored as each ends, recorded —
but with the built-in evaluators only (a function from a notebook exists only in that kernel).

Durable: the request is an event (``experiment_run_requested``), so a server that restarts picks
up every unfinished server-run experiment; a PostgreSQL advisory lock, held on a connection of its
own for as long as one server executes an experiment, makes sure only one does (the lock goes
with the connection when that server dies). A resumed experiment joins the runs it had started
and skips the examples already recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from duragraph_lab.api import models
from duragraph_lab.api.evals import EXPERIMENT_LOCK_CLASS, Experiments, InvalidRequest, Outcomes
from duragraph_lab.api.runs import Runs
from duragraph_lab.api.threads import Threads
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import Conflict, DuraGraphError, NotFound
from duragraph_lab.evals.evaluators import Evaluator, EvaluatorError
from duragraph_lab.evals.scoring import score_example
from duragraph_lab.evals.specs import evaluator_from_spec
from duragraph_lab.store import PostgresEventStore

log = logging.getLogger(__name__)


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


class ServerExperiments:
    def __init__(
        self,
        store: PostgresEventStore,
        experiments: Experiments,
        threads: Threads,
        runs: Runs,
        outcomes: Outcomes,
        database_url: str,
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.threads = threads
        self.runs = runs
        self.outcomes = outcomes
        self.database_url = database_url
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self, experiment_id: str) -> dict[str, Any]:
        """Have the server run (or finish) the experiment; answers at once."""
        experiment = await self.experiments.get(experiment_id)
        eid = experiment["experiment_id"]
        if experiment["status"] == "completed":
            raise Conflict(f"experiment {eid} is completed: nothing left to run")
        server_scorers(experiment["evaluators"])  # refuse before recording anything
        if experiment["runner"] != "server":
            await self.store.append(
                f"experiment:{eid}", None, [NewEvent(ev.EXPERIMENT_RUN_REQUESTED, {"runner": "server"})]
            )
        self._ensure(eid)
        return await self.experiments.get(eid)

    async def resume_unfinished(self) -> None:
        """Start every unfinished server-run experiment no server is running (after a restart)."""
        try:
            rows = await self.store._query(
                "SELECT experiment_id::text FROM duragraph.experiments "
                "WHERE runner = 'server' AND status = 'running' ORDER BY created_at LIMIT 100",
                (),
            )
        except psycopg.Error as err:  # the database being away is reported by /health
            log.debug("DuraGraph Lab: looking for experiments to resume: %s", err)
            return
        for (eid,) in rows:
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
            async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                row = await (
                    await conn.execute(
                        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (EXPERIMENT_LOCK_CLASS, eid)
                    )
                ).fetchone()
                if not (row and row[0]):
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
        scorers = server_scorers(experiment["evaluators"])
        examples = await self.experiments.datasets.version_examples(
            experiment["dataset_id"], experiment["dataset_version"]
        )
        recorded = {r["example_id"] for r in await self.experiments.results(eid)}
        started = await self._started_runs(eid)
        unavailable: str | None = None
        target, config = "", None
        try:
            target, config = await self._target(experiment)
        except DuraGraphError as err:  # deleted since: every example left is an error, said once each
            unavailable = str(err)
        gate = asyncio.Semaphore(max(1, int(experiment["concurrency"] or 1)))

        async def one(example: dict[str, Any]) -> None:
            async with gate:
                if unavailable is not None:
                    await self._record(
                        eid, models.ResultCreate(example_id=example["example_id"], error=unavailable)
                    )
                else:
                    await self._one(
                        experiment, example, scorers, target, config, started.get(example["example_id"])
                    )

        pending = [e for e in examples if e["example_id"] not in recorded]
        await asyncio.gather(*(one(e) for e in pending))
        if len({r["example_id"] for r in await self.experiments.results(eid)}) >= len(examples):
            await self.experiments.complete(eid)
            log.info("DuraGraph Lab: experiment %s completed on the server", eid)

    async def _started_runs(self, eid: str) -> dict[str, str]:
        """Runs an earlier attempt started, by example (the newest per example)."""
        rows = await self.store._query(
            "SELECT metadata->>'example_id', run_id::text FROM duragraph.runs "
            "WHERE metadata @> %s::jsonb ORDER BY created_at",
            (json.dumps({"experiment_id": eid}),),
        )
        return {str(example_id): run_id for example_id, run_id in rows}

    async def _target(self, experiment: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """The assistant as it is, unless the experiment pinned another version (then that
        version's graph and config): the notebook runner's rule."""
        try:
            current = await self.experiments.assistants.get(experiment["assistant_id"])
        except NotFound:
            raise NotFound(
                f"assistant {experiment['assistant_id']} of experiment {experiment['name']!r} no longer exists"
            ) from None
        if experiment["assistant_version"] in (None, current["version"]):
            return experiment["assistant_id"], None
        if current["graph_id"] == experiment["graph_id"]:
            return experiment["assistant_id"], dict(experiment["config"])
        return str(experiment["graph_id"]), dict(experiment["config"])

    async def _one(
        self,
        experiment: Mapping[str, Any],
        example: Mapping[str, Any],
        scorers: Sequence[Evaluator],
        target: str,
        config: dict[str, Any] | None,
        run_id: str | None,
    ) -> None:
        eid, example_id = experiment["experiment_id"], example["example_id"]
        tags = {"experiment_id": eid, "example_id": example_id, "dataset_id": experiment["dataset_id"]}
        try:
            if run_id is None:
                thread = await self.threads.create(models.ThreadCreate(metadata=tags))
                body = models.RunCreateStateful.model_validate(
                    {"assistant_id": target, "input": example.get("inputs"), "metadata": tags}
                    | ({"config": config} if config is not None else {})
                )
                run_id = (await self.runs.create(thread["thread_id"], body)).run_id
            await self.runs.wait_at_rest(run_id)
            outcome = await self.outcomes.get(run_id)
        except DuraGraphError as err:
            # This example's run could not start or be followed: an error for it alone.
            result = models.ResultCreate(
                example_id=example_id, status="error", error=f"{type(err).__name__}: {err}"
            )
        else:
            # An LLM judge calls a model: off the event loop.
            scores = await asyncio.to_thread(score_example, scorers, example, outcome)
            result = models.ResultCreate.model_validate(
                {"example_id": example_id, "run_id": run_id, "scores": scores}
            )
        await self._record(eid, result)

    async def _record(self, eid: str, result: models.ResultCreate) -> None:
        try:
            await self.experiments.record(eid, result)
        except DuraGraphError as err:
            log.warning("DuraGraph Lab: experiment %s, example %s: %s", eid, result.example_id, err)
