"""The evals read models — ``datasets``, ``dataset_versions``, ``experiments``,
``experiment_results`` (migration 0004) — and the facts of runs that evals read from ``runs``.
Implements the read-model ports of :mod:`duragraph_lab.control.datasets`,
:mod:`duragraph_lab.control.experiments` and :mod:`duragraph_lab.control.outcomes`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from duragraph_lab.control.datasets import AT_REST, DatasetRecord, DatasetVersionRecord, RunSelection
from duragraph_lab.control.experiments import ExperimentRecord, ResultRecord
from duragraph_lab.control.outcomes import RunFacts
from duragraph_lab.control.read_models import RunFilter
from duragraph_lab.domain.ids import as_uuid
from duragraph_lab.store.experiment_locks import EXPERIMENT_LOCK_CLASS
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.assistants import like_pattern
from duragraph_lab.store.queries.runs import run_filter_sql

_DATASET_COLUMNS = (
    "dataset_id::text, name, description, metadata, version, example_count, created_at, updated_at"
)
_EXPERIMENT_COLUMNS = (
    "experiment_id::text, name, dataset_id::text, dataset_name, dataset_version, assistant_id::text, "
    "assistant_version, graph_id, config, evaluators, concurrency, metadata, status, example_count, "
    "result_count, passed, failed, errors, created_at, updated_at, completed_at, runner, "
    # Running on a server now: that server holds the experiment's advisory lock (see
    # store.experiment_locks). int4 -> oid wraps negatives, as pg_locks shows the keys.
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    f"AND l.classid = {EXPERIMENT_LOCK_CLASS}::oid AND l.objid = hashtext(experiment_id::text)::oid)"
)
_RESULT_COLUMNS = (
    "experiment_id::text, example_id, idx, run_id::text, status, verdict, outputs, error, scores, "
    "latency_ms, steps, nodes, recorded_at, seq"
)
_RUN_COLUMNS = (
    "run_id::text, thread_id::text, assistant_id::text, graph_id, status, error, metadata, "
    "created_at, started_at, ended_at"
)
#: Server-run experiments a starting server picks up at once.
_RESUME_BATCH = 100


class PgDatasets:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def dataset(self, ref: str) -> DatasetRecord | None:
        by_id = as_uuid(ref)
        rows = await self.store._query(
            f"SELECT {_DATASET_COLUMNS} FROM duragraph.datasets WHERE "
            + ("dataset_id = %s OR name = %s" if by_id else "name = %s"),
            (by_id, ref) if by_id else (ref,),
        )
        return DatasetRecord(*rows[0]) if rows else None

    async def versions(self, dataset_id: str) -> list[DatasetVersionRecord]:
        rows = await self.store._query(
            "SELECT version, example_count, created_at, seq, selection, description "
            "FROM duragraph.dataset_versions WHERE dataset_id = %s ORDER BY version",
            (dataset_id,),
        )
        return [DatasetVersionRecord(*r) for r in rows]

    async def search(self, *, name: str | None, limit: int, offset: int) -> list[DatasetRecord]:
        where, params = "true", []
        if name:
            where = "name ILIKE %s"
            params.append(like_pattern(name))
        rows = await self.store._query(
            f"SELECT {_DATASET_COLUMNS} FROM duragraph.datasets WHERE {where} "
            "ORDER BY updated_at DESC, name LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [DatasetRecord(*r) for r in rows]

    async def examples(self, dataset_id: str, version: int) -> list[dict[str, Any]] | None:
        # The examples are in the version's event, not in a table of their own.
        rows = await self.store._query(
            "SELECT e.data->'examples' FROM duragraph.dataset_versions v "
            "JOIN duragraph.events e ON e.seq = v.seq WHERE v.dataset_id = %s AND v.version = %s",
            (dataset_id, version),
        )
        return list(rows[0][0]) if rows else None

    async def select_runs(self, selection: RunSelection) -> list[str]:
        where, params = run_filter_sql(
            RunFilter(
                statuses=list(selection.statuses or AT_REST),
                assistant_id=selection.assistant_id,
                thread_id=selection.thread_id,
                graph_id=selection.graph_id,
                ids=selection.run_ids,
                metadata=selection.metadata,
                created_after=selection.created_after,
                created_before=selection.created_before,
                thread_ids=selection.thread_ids,
            )
        )
        rows = await self.store._query(
            f"SELECT run_id::text FROM duragraph.runs WHERE {where} ORDER BY created_at, run_id LIMIT %s",
            (*params, selection.limit),
        )
        return [r[0] for r in rows]


class PgExperiments:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def _experiments(
        self, where: str, params: tuple[Any, ...], tail: str = ""
    ) -> list[ExperimentRecord]:
        rows = await self.store._query(
            f"SELECT {_EXPERIMENT_COLUMNS} FROM duragraph.experiments WHERE {where} {tail}", params
        )
        found = [ExperimentRecord(*r) for r in rows]
        if not found:
            return []
        means: dict[str, dict[str, float]] = {e.experiment_id: {} for e in found}
        for experiment_id, name, mean in await self.store._query(
            "SELECT experiment_id::text, s->>'name', avg((s->>'score')::float8) "
            "FROM duragraph.experiment_results, jsonb_array_elements(scores) s "
            "WHERE experiment_id = ANY(%s::uuid[]) AND jsonb_typeof(s->'score') = 'number' "
            "GROUP BY 1, 2 ORDER BY 2",
            (list(means),),
        ):
            means[experiment_id][name] = float(mean)
        return [dataclasses.replace(e, mean_scores=means[e.experiment_id]) for e in found]

    async def experiment(self, experiment_id: str) -> ExperimentRecord | None:
        found = await self._experiments("experiment_id = %s", (experiment_id,))
        return found[0] if found else None

    async def search(self, *, dataset_id: str | None, limit: int, offset: int) -> list[ExperimentRecord]:
        where, params = ("dataset_id = %s", (dataset_id,)) if dataset_id else ("true", ())
        return await self._experiments(
            where, (*params, limit, offset), "ORDER BY created_at DESC LIMIT %s OFFSET %s"
        )

    async def results(self, experiment_id: str) -> list[ResultRecord]:
        rows = await self.store._query(
            f"SELECT {_RESULT_COLUMNS} FROM duragraph.experiment_results WHERE experiment_id = %s "
            "ORDER BY idx, example_id",
            (experiment_id,),
        )
        return [ResultRecord(*r) for r in rows]

    async def result(self, experiment_id: str, example_id: str) -> ResultRecord | None:
        rows = await self.store._query(
            f"SELECT {_RESULT_COLUMNS} FROM duragraph.experiment_results "
            "WHERE experiment_id = %s AND example_id = %s",
            (experiment_id, example_id),
        )
        return ResultRecord(*rows[0]) if rows else None

    async def started_runs(self, experiment_id: str) -> dict[str, str]:
        rows = await self.store._query(
            "SELECT metadata->>'example_id', run_id::text FROM duragraph.runs "
            "WHERE metadata @> %s::jsonb ORDER BY created_at",
            (json.dumps({"experiment_id": experiment_id}),),
        )
        return {str(example_id): run_id for example_id, run_id in rows}  # the newest wins

    async def unfinished_on_server(self) -> list[str]:
        rows = await self.store._query(
            "SELECT experiment_id::text FROM duragraph.experiments "
            "WHERE runner = 'server' AND status = 'running' ORDER BY created_at LIMIT %s",
            (_RESUME_BATCH,),
        )
        return [r[0] for r in rows]


class PgRunFacts:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def run(self, run_id: str) -> RunFacts | None:
        rows = await self.store._query(
            f"SELECT {_RUN_COLUMNS} FROM duragraph.runs WHERE run_id = %s", (run_id,)
        )
        return RunFacts(*rows[0]) if rows else None
