"""The evals read models (migration 0004) are projections: written with their events, rebuilt
from the events alone, and a dataset name clash rolls the append back."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from duragraph_lab.domain import NewEvent
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import ReadModelConflict
from duragraph_lab.store import PostgresEventStore

TABLES = ("datasets", "dataset_versions", "experiments", "experiment_results")


def _rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        return {t: conn.execute(f"SELECT * FROM duragraph.{t} ORDER BY 1, 2").fetchall() for t in TABLES}


def _example(i: int) -> dict[str, Any]:
    return {"example_id": f"ex-{i}", "index": i, "inputs": {"n": i}, "outputs": {"n": i + 1}, "nodes": []}


async def _dataset(store: PostgresEventStore, name: str, versions: int) -> str:
    dataset_id = str(uuid.uuid4())
    created = NewEvent(ev.DATASET_CREATED, {"dataset_id": dataset_id, "name": name, "metadata": {"k": 1}})
    first = NewEvent(ev.DATASET_VERSION_ADDED, {"version": 1, "selection": None, "examples": [_example(0)]})
    await store.append(f"dataset:{dataset_id}", 0, [created, first])
    for v in range(2, versions + 1):
        examples = [_example(i) for i in range(v)]
        await store.append(
            f"dataset:{dataset_id}",
            None,
            [NewEvent(ev.DATASET_VERSION_ADDED, {"version": v, "examples": examples})],
        )
    return dataset_id


async def test_evals_tables_are_rebuilt_from_the_events(
    pg_store: PostgresEventStore, database_url: str
) -> None:
    kept = await _dataset(pg_store, "kept", versions=2)
    gone = await _dataset(pg_store, "gone", versions=1)
    await pg_store.append(f"dataset:{gone}", None, [NewEvent(ev.DATASET_DELETED, {"dataset_id": gone})])
    experiment_id = str(uuid.uuid4())
    await pg_store.append(
        f"experiment:{experiment_id}",
        0,
        [
            NewEvent(
                ev.EXPERIMENT_CREATED,
                {
                    "experiment_id": experiment_id,
                    "name": "e",
                    "dataset_id": kept,
                    "dataset_name": "kept",
                    "dataset_version": 2,
                    "assistant_id": str(uuid.uuid4()),
                    "assistant_version": 1,
                    "graph_id": "g",
                    "example_count": 2,
                },
            )
        ],
    )
    for i, verdict in enumerate(("passed", "error")):
        result = {"example_id": f"ex-{i}", "index": i, "status": "success", "verdict": verdict, "scores": []}
        await pg_store.append(
            f"experiment:{experiment_id}", None, [NewEvent(ev.EXPERIMENT_RESULT_RECORDED, result)]
        )
    await pg_store.append(
        f"experiment:{experiment_id}", None, [NewEvent(ev.EXPERIMENT_RUN_REQUESTED, {"runner": "server"})]
    )
    await pg_store.append(f"experiment:{experiment_id}", None, [NewEvent(ev.EXPERIMENT_COMPLETED, {})])

    before = _rows(database_url)
    assert [r[1] for r in before["datasets"]] == ["kept"]  # the deleted one is gone
    assert len(before["dataset_versions"]) == 2
    experiment = before["experiments"][0]
    assert experiment[12:18] == ("completed", 2, 2, 1, 0, 1)  # status, examples, results, verdicts
    assert experiment[-1] == "server"  # who ran it (migration 0007)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT duragraph.rebuild_projections()")
    assert _rows(database_url) == before


async def test_a_taken_dataset_name_rolls_the_append_back(
    pg_store: PostgresEventStore, database_url: str
) -> None:
    await _dataset(pg_store, "same", versions=1)
    with pytest.raises(ReadModelConflict) as taken:
        await _dataset(pg_store, "same", versions=1)
    assert taken.value.constraint == "datasets_name_key"
    with psycopg.connect(database_url) as conn:
        streams = conn.execute("SELECT count(*) FROM duragraph.streams WHERE kind = 'dataset'").fetchone()
    assert streams == (1,)
