"""The runs of a server-run experiment (:class:`duragraph_lab.control.experiment_runner.ExampleRuns`),
started and followed exactly as ``POST /threads/{id}/runs`` and ``GET .../join`` would: a
thread per example, a run on it, woken by the run's events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duragraph_lab.api import models
from duragraph_lab.api.runs import Runs
from duragraph_lab.api.threads import Threads


class ApiExampleRuns:
    def __init__(self, threads: Threads, runs: Runs) -> None:
        self.threads = threads
        self.runs = runs

    async def start(
        self, assistant: str, input: Any, *, config: Mapping[str, Any] | None, tags: Mapping[str, Any]
    ) -> str:
        thread = await self.threads.create(models.ThreadCreate(metadata=dict(tags)))
        body = models.RunCreateStateful.model_validate(
            {"assistant_id": assistant, "input": input, "metadata": dict(tags)}
            | ({"config": dict(config)} if config is not None else {})
        )
        return (await self.runs.create(thread["thread_id"], body)).run_id

    async def wait(self, run_id: str) -> None:
        await self.runs.wait_at_rest(run_id)
