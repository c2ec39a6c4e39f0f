"""The calls of evals (datasets and experiments) as :class:`Call` objects, shared by the sync and
the async client (see ``_calls``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from duragraph_lab.client import models as m
from duragraph_lab.client._calls import run_filter
from duragraph_lab.client._common import Call, compact, json_body, query, read, read_list, read_none, seg
from duragraph_lab.client.errors import DuraGraphClientError


def dataset_selection(
    *, thread_ids: Sequence[str] | None = None, limit: int | None = None, **filters: Any
) -> dict[str, Any]:
    """A dataset's run selection: the run search filters, ``thread_ids`` and ``limit``."""
    return {
        **run_filter(**filters),
        **compact({"thread_ids": list(thread_ids) if thread_ids is not None else None, "limit": limit}),
    }


def _dataset_body(
    examples: Sequence[Mapping[str, Any]] | None,
    description: str | None,
    thread_ids: Sequence[str] | None,
    limit: int | None,
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = compact(
        {
            "description": description,
            "examples": [dict(e) for e in examples] if examples is not None else None,
        }
    )
    filters = dict(filters)
    if "metadata" in filters:
        raise DuraGraphClientError(
            "a dataset's run filter on metadata is run_metadata= (metadata= is the dataset's own metadata)"
        )
    if "run_metadata" in filters:
        filters["metadata"] = filters.pop("run_metadata")
    if filters or thread_ids is not None or limit is not None:
        body["selection"] = dataset_selection(thread_ids=thread_ids, limit=limit, **filters)
    return body


def dataset_create(
    name: str,
    *,
    examples: Sequence[Mapping[str, Any]] | None,
    description: str | None,
    metadata: Mapping[str, Any] | None,
    if_exists: str,
    thread_ids: Sequence[str] | None,
    limit: int | None,
    filters: Mapping[str, Any],
) -> Call[m.Dataset]:
    body = _dataset_body(examples, description, thread_ids, limit, filters)
    body.update(compact({"name": name, "metadata": metadata, "if_exists": if_exists}))
    return Call("POST", "datasets", read(m.Dataset.from_json), body=body)


def dataset_add_version(
    dataset: str,
    *,
    examples: Sequence[Mapping[str, Any]] | None,
    description: str | None,
    thread_ids: Sequence[str] | None,
    limit: int | None,
    filters: Mapping[str, Any],
) -> Call[m.Dataset]:
    body = _dataset_body(examples, description, thread_ids, limit, filters)
    return Call("POST", f"datasets/{seg(dataset)}/versions", read(m.Dataset.from_json), body=body)


def dataset_get(dataset: str) -> Call[m.Dataset]:
    return Call("GET", f"datasets/{seg(dataset)}", read(m.Dataset.from_json))


def dataset_list(*, limit: int, offset: int, name: str | None) -> Call[list[m.Dataset]]:
    return Call(
        "GET", "datasets", read_list(m.Dataset.from_json), query(limit=limit, offset=offset, name=name)
    )


def dataset_delete(dataset: str) -> Call[None]:
    return Call("DELETE", f"datasets/{seg(dataset)}", read_none)


def dataset_examples(dataset: str, version: int | None) -> Call[list[m.Example]]:
    def reader(response: httpx.Response) -> list[m.Example]:
        return [m.Example.from_json(e) for e in json_body(response).get("examples") or []]

    return Call("GET", f"datasets/{seg(dataset)}/examples", reader, query(version=version))


def dataset_events(dataset: str) -> Call[list[m.Event]]:
    return Call("GET", f"datasets/{seg(dataset)}/events", read_list(m.Event.from_json))


def experiment_create(
    dataset: str,
    assistant_id: str,
    *,
    dataset_version: int | None,
    assistant_version: int | None,
    name: str | None,
    evaluators: Sequence[Mapping[str, Any]],
    concurrency: int | None,
    metadata: Mapping[str, Any] | None,
) -> Call[m.Experiment]:
    body = compact(
        {
            "dataset": dataset,
            "assistant_id": assistant_id,
            "dataset_version": dataset_version,
            "assistant_version": assistant_version,
            "name": name,
            "evaluators": [dict(e) for e in evaluators],
            "concurrency": concurrency,
            "metadata": metadata,
        }
    )
    return Call("POST", "experiments", read(m.Experiment.from_json), body=body)


def experiment_get(experiment_id: str) -> Call[m.Experiment]:
    return Call("GET", f"experiments/{seg(experiment_id)}", read(m.Experiment.from_json))


def experiment_list(*, dataset: str | None, limit: int, offset: int) -> Call[list[m.Experiment]]:
    params = query(dataset=dataset, limit=limit, offset=offset)
    return Call("GET", "experiments", read_list(m.Experiment.from_json), params)


def experiment_record(
    experiment_id: str,
    example_id: str,
    *,
    run_id: str | None,
    scores: Sequence[Mapping[str, Any]],
    status: str | None,
    error: str | None,
) -> Call[m.ExperimentResult]:
    body = compact(
        {
            "example_id": example_id,
            "run_id": run_id,
            "scores": [dict(s) for s in scores],
            "status": status,
            "error": error,
        }
    )
    path = f"experiments/{seg(experiment_id)}/results"
    return Call("POST", path, read(m.ExperimentResult.from_json), body=body)


def experiment_results(experiment_id: str) -> Call[list[m.ExperimentResult]]:
    path = f"experiments/{seg(experiment_id)}/results"
    return Call("GET", path, read_list(m.ExperimentResult.from_json))


def experiment_complete(experiment_id: str) -> Call[m.Experiment]:
    return Call("POST", f"experiments/{seg(experiment_id)}/complete", read(m.Experiment.from_json))


def experiment_run(experiment_id: str) -> Call[m.Experiment]:
    return Call("POST", f"experiments/{seg(experiment_id)}/run", read(m.Experiment.from_json))


def experiment_compare(base: str, candidate: str) -> Call[m.Comparison]:
    body = {"base": base, "candidate": candidate}
    return Call("POST", "experiments/compare", read(m.Comparison.from_json), body=body)


def experiment_notebook(experiment_id: str) -> Call[bytes]:
    return Call("GET", f"experiments/{seg(experiment_id)}/notebook", lambda response: response.content)
