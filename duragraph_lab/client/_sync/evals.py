# Generated from duragraph_lab/client/_async/evals.py by `python duragraph_lab/client/_unasync.py`: do not edit.
"""``client.datasets`` and ``client.experiments``: the HTTP operations of evals."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from duragraph_lab.client import _eval_calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client.frames import DataFrame, examples_to_frame, results_to_frame

if TYPE_CHECKING:
    from duragraph_lab.client._sync.client import DuraGraphClient


class Datasets:
    """Datasets: runs (and hand-written examples) frozen into named, versioned example sets."""

    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        examples: Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        if_exists: str = "raise",
        thread_ids: Sequence[str] | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> m.Dataset:
        """Freeze the runs matching the filters (those of ``runs.search``: ``status``,
        ``assistant_id``, ``graph_id``, ``thread_id``, ``ids``, ``created_after``, ``created_before``,
        and ``run_metadata`` for the runs' metadata; plus ``thread_ids``; at most ``limit``, default
        100; runs at rest when no status is given) and any hand-written ``examples`` (``{"inputs", "outputs"?, "metadata"?}``)
        into version 1 of a new dataset (``metadata`` is the dataset's own). A taken name is a 409
        unless ``if_exists="new_version"``."""
        return self._client.call(
            c.dataset_create(
                name,
                examples=examples,
                description=description,
                metadata=metadata,
                if_exists=if_exists,
                thread_ids=thread_ids,
                limit=limit,
                filters=filters,
            )
        )

    def add_version(
        self,
        dataset: str,
        *,
        examples: Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
        thread_ids: Sequence[str] | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> m.Dataset:
        """Freeze a new version of ``dataset`` (id or name), selected as in :meth:`create`."""
        return self._client.call(
            c.dataset_add_version(
                dataset,
                examples=examples,
                description=description,
                thread_ids=thread_ids,
                limit=limit,
                filters=filters,
            )
        )

    def get(self, dataset: str) -> m.Dataset:
        return self._client.call(c.dataset_get(dataset))

    def list(self, *, limit: int = 20, offset: int = 0, name: str | None = None) -> builtins.list[m.Dataset]:
        """Datasets, most recently changed first (``name``: part of the name)."""
        return self._client.call(c.dataset_list(limit=limit, offset=offset, name=name))

    def delete(self, dataset: str) -> None:
        self._client.call(c.dataset_delete(dataset))

    def examples(self, dataset: str, *, version: int | None = None) -> builtins.list[m.Example]:
        """The examples of a version (the latest by default)."""
        return self._client.call(c.dataset_examples(dataset, version))

    def events(self, dataset: str) -> builtins.list[m.Event]:
        """The dataset's event log (created, one event per version, deleted): its history."""
        return self._client.call(c.dataset_events(dataset))

    def examples_frame(self, dataset: str, *, version: int | None = None) -> DataFrame:
        return examples_to_frame(self.examples(dataset, version=version))


class Experiments:
    """Experiments: a dataset version re-run against an assistant, scored example by example.
    ``duragraph_lab.evals.run_experiment`` drives one; these are its HTTP operations."""

    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def create(
        self,
        dataset: str,
        assistant_id: str,
        *,
        dataset_version: int | None = None,
        assistant_version: int | None = None,
        name: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] = (),
        concurrency: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> m.Experiment:
        return self._client.call(
            c.experiment_create(
                dataset,
                assistant_id,
                dataset_version=dataset_version,
                assistant_version=assistant_version,
                name=name,
                evaluators=evaluators,
                concurrency=concurrency,
                metadata=metadata,
            )
        )

    def get(self, experiment_id: str) -> m.Experiment:
        return self._client.call(c.experiment_get(experiment_id))

    def list(
        self, *, dataset: str | None = None, limit: int = 20, offset: int = 0
    ) -> builtins.list[m.Experiment]:
        """Experiments, newest first (of one dataset: its id or name)."""
        return self._client.call(c.experiment_list(dataset=dataset, limit=limit, offset=offset))

    def record(
        self,
        experiment_id: str,
        example_id: str,
        *,
        run_id: str | None = None,
        scores: Sequence[Mapping[str, Any]] = (),
        status: str | None = None,
        error: str | None = None,
    ) -> m.ExperimentResult:
        """Record one example's result (once per example; the same result again is a no-op)."""
        return self._client.call(
            c.experiment_record(
                experiment_id, example_id, run_id=run_id, scores=scores, status=status, error=error
            )
        )

    def results(self, experiment_id: str) -> builtins.list[m.ExperimentResult]:
        return self._client.call(c.experiment_results(experiment_id))

    def results_frame(self, experiment_id: str) -> DataFrame:
        return results_to_frame(self.results(experiment_id))

    def complete(self, experiment_id: str) -> m.Experiment:
        return self._client.call(c.experiment_complete(experiment_id))

    def run(self, experiment_id: str) -> m.Experiment:
        """Have the server run the experiment (built-in evaluators only); answers at once.
        Follow it with :meth:`get` (``running``, ``result_count``, ``status``)."""
        return self._client.call(c.experiment_run(experiment_id))

    def compare(self, base: str, candidate: str) -> m.Comparison:
        """Two experiments of one dataset, example by example."""
        return self._client.call(c.experiment_compare(base, candidate))

    def notebook(self, experiment_id: str) -> bytes:
        """The experiment exported as a notebook (.ipynb bytes) that re-runs and re-scores it."""
        return self._client.call(c.experiment_notebook(experiment_id))
