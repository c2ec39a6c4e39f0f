"""Datasets and experiments (evals): recorded runs frozen into versioned datasets, and datasets
re-run against an assistant with their scores recorded.

Both are event streams: ``dataset:<uuid>`` (``dataset_created``, one ``dataset_version_added``
per version holding its examples, ``dataset_deleted``) and ``experiment:<uuid>``
(``experiment_created``, one ``experiment_result_recorded`` per example,
``experiment_completed``). The tables of migration 0004 are their read models.

The runs of an experiment are ordinary durable runs, started and scored by the client (the
evaluators are the user's Python functions); this module checks and records what the client
reports, reading the facts of each run (status, outputs, nodes, latency) from its event log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from duragraph_lab.api import models
from duragraph_lab.api.assistants import Assistants
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.api.runs import run_filter
from duragraph_lab.control.history import RunHistory
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import Conflict, DuraGraphError, NotFound, VersionConflict
from duragraph_lab.evals import diff as cmp
from duragraph_lab.evals import export
from duragraph_lab.evals.evaluators import EvaluatorError
from duragraph_lab.evals.specs import evaluator_from_spec
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.runs import run_filter_sql

#: Runs a dataset version freezes when no status is asked for: those that finished or paused.
AT_REST = ["success", "error", "interrupted", "timeout"]
#: Runs read at once while freezing a selection.
_FREEZE_CONCURRENCY = 8
#: Dataset versions whose examples are kept in memory (they never change).
_CACHED_VERSIONS = 64
_NAMESPACE = uuid.UUID("6f1f3c1e-8c1a-4d1b-9a77-3f5e0f7f0e42")


class EmptySelection(DuraGraphError):
    """A dataset version would have no examples."""

    code = "empty_selection"
    http_status = 422


class DatasetExists(Conflict):
    """A dataset of that name exists already."""

    code = "dataset_exists"


class InvalidRequest(DuraGraphError):
    """A request that is well-formed but asks for something that cannot be done."""

    code = "invalid_request"
    http_status = 422


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _ms(start: Any, end: Any) -> float | None:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return None
    return round((end - start).total_seconds() * 1000.0, 3)


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    if isinstance(error, Mapping):
        kind, message = error.get("error") or error.get("type"), error.get("message")
        if kind and message:
            return f"{kind}: {message}"
        return str(message or kind or json.dumps(plain(error)))
    return str(error)


def _tool_calls(nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Tool names in the order the model asked for them (from the AI messages nodes wrote)."""
    names: list[str] = []
    for node in nodes:
        update = node.get("update")
        messages = update.get("messages") if isinstance(update, Mapping) else None
        if not isinstance(messages, list):
            continue
        for message in messages:
            calls = message.get("tool_calls") if isinstance(message, Mapping) else None
            for call in calls or []:
                if isinstance(call, Mapping) and call.get("name"):
                    names.append(str(call["name"]))
    return names


class Outcomes:
    """What a run did, as evaluators see it: read from its event log."""

    def __init__(self, store: PostgresEventStore, history: RunHistory) -> None:
        self.control = history
        self.store = store

    async def get(self, run_id: str) -> dict[str, Any]:
        rid = _uuid(run_id)
        if rid is None:
            raise NotFound(f"run {run_id} does not exist (not a UUID)")
        rows = await self.store._query(
            "SELECT run_id::text, thread_id::text, assistant_id::text, graph_id, status, error, metadata, "
            "created_at, started_at, ended_at FROM duragraph.runs WHERE run_id = %s",
            (rid,),
        )
        if not rows:
            raise NotFound(f"run {run_id} does not exist")
        run_id, thread_id, assistant_id, graph_id, status, error, metadata, created, started, ended = rows[0]
        events = await self.control.run_events(run_id)
        state = await self.control.state(run_id)
        nodes = [
            {
                "step": e.data.get("step"),
                "node": e.data.get("node"),
                "ns": e.data.get("ns") or "",
                "duration_ms": e.data.get("duration_ms"),
                "update": plain(e.data.get("update")),
            }
            for e in events
            if e.type == ev.NODE_COMPLETED
        ]
        created_event = next((e for e in events if e.type == ev.RUN_CREATED), None)
        root = [n for n in nodes if not n["ns"]]
        return {
            "run_id": run_id,
            "thread_id": thread_id,
            "assistant_id": assistant_id,
            "graph_id": graph_id,
            "status": status,
            "inputs": plain(created_event.data.get("input")) if created_event else None,
            "outputs": plain(state.values),
            "error": _error_text(error),
            "metadata": plain(metadata or {}),
            "nodes": nodes,
            "trajectory": [
                str(n["node"]) for n in sorted(root, key=lambda n: (n["step"] or 0, str(n["node"])))
            ],
            "tool_calls": _tool_calls(nodes),
            "latency_ms": _ms(created, ended),
            "steps": len({n["step"] for n in root}),
            "created_at": iso(created),
            "started_at": iso(started),
            "ended_at": iso(ended),
        }


_DATASET_COLUMNS = (
    "dataset_id::text, name, description, metadata, version, example_count, created_at, updated_at"
)


class Datasets:
    def __init__(self, store: PostgresEventStore, outcomes: Outcomes) -> None:
        self.store = store
        self.outcomes = outcomes
        # A dataset version never changes: its examples are cached by (dataset, version).
        self._examples: dict[tuple[str, int], list[dict[str, Any]]] = {}

    # -- reading -----------------------------------------------------------------------------
    async def _row(self, ref: str) -> tuple[Any, ...] | None:
        by_id = _uuid(ref)
        rows = await self.store._query(
            f"SELECT {_DATASET_COLUMNS} FROM duragraph.datasets WHERE "
            + ("dataset_id = %s OR name = %s" if by_id else "name = %s"),
            (by_id, ref) if by_id else (ref,),
        )
        return rows[0] if rows else None

    async def row(self, ref: str) -> tuple[Any, ...]:
        row = await self._row(ref)
        if row is None:
            raise NotFound(f"dataset {ref!r} does not exist")
        return row

    async def _json(self, row: tuple[Any, ...]) -> dict[str, Any]:
        dataset_id, name, description, metadata, version, count, created, updated = row
        versions = await self.store._query(
            "SELECT version, example_count, created_at, seq, selection, description "
            "FROM duragraph.dataset_versions WHERE dataset_id = %s ORDER BY version",
            (dataset_id,),
        )
        return {
            "dataset_id": dataset_id,
            "name": name,
            "description": description,
            "metadata": plain(metadata or {}),
            "version": version,
            "example_count": count,
            "versions": [
                {
                    "version": v,
                    "example_count": n,
                    "created_at": iso(at),
                    "seq": seq,
                    "selection": plain(selection),
                    "description": text,
                }
                for v, n, at, seq, selection, text in versions
            ],
            "created_at": iso(created),
            "updated_at": iso(updated),
        }

    async def get(self, ref: str) -> dict[str, Any]:
        return await self._json(await self.row(ref))

    async def search(self, query: models.DatasetQuery) -> list[dict[str, Any]]:
        where, params = "true", []
        if query.name:
            where = "name ILIKE %s"
            params.append(
                "%" + query.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
        rows = await self.store._query(
            f"SELECT {_DATASET_COLUMNS} FROM duragraph.datasets WHERE {where} "
            "ORDER BY updated_at DESC, name LIMIT %s OFFSET %s",
            (*params, query.limit, query.offset),
        )
        return [await self._json(r) for r in rows]

    async def events(self, ref: str) -> list[dict[str, Any]]:
        """The dataset's event log: its history, version by version."""
        dataset_id = (await self.row(ref))[0]
        return [
            {
                "seq": e.seq,
                "stream_id": e.stream_id,
                "version": e.version,
                "event_id": str(e.event_id),
                "type": e.type,
                "data": plain(e.data),
                "meta": plain(e.meta),
                "recorded_at": iso(e.recorded_at),
            }
            for e in await self.store.read_stream(f"dataset:{dataset_id}")
        ]

    async def examples(self, ref: str, version: int | None = None) -> dict[str, Any]:
        dataset_id, name, *_rest = await self.row(ref)
        latest = int(_rest[2])
        wanted = latest if version is None else version
        return {
            "dataset_id": dataset_id,
            "name": name,
            "version": wanted,
            "examples": await self.version_examples(dataset_id, wanted),
        }

    async def version_examples(self, dataset_id: str, version: int) -> list[dict[str, Any]]:
        key = (dataset_id, version)
        if key not in self._examples:
            rows = await self.store._query(
                "SELECT e.data->'examples' FROM duragraph.dataset_versions v "
                "JOIN duragraph.events e ON e.seq = v.seq WHERE v.dataset_id = %s AND v.version = %s",
                (dataset_id, version),
            )
            if not rows:
                raise NotFound(f"dataset {dataset_id} has no version {version}")
            if len(self._examples) >= _CACHED_VERSIONS:
                self._examples.pop(next(iter(self._examples)))
            self._examples[key] = list(rows[0][0])
        return self._examples[key]

    # -- freezing ----------------------------------------------------------------------------
    async def _select(self, selection: models.DatasetSelection) -> list[str]:
        where, params = run_filter_sql(run_filter(selection))
        if selection.status is None:
            where += " AND status = ANY(%s)"
            params.append(AT_REST)
        if selection.thread_ids is not None:
            where += " AND thread_id = ANY(%s::uuid[])"
            params.append([str(t) for t in selection.thread_ids])
        rows = await self.store._query(
            f"SELECT run_id::text FROM duragraph.runs WHERE {where} ORDER BY created_at, run_id LIMIT %s",
            (*params, selection.limit),
        )
        return [r[0] for r in rows]

    async def _freeze(
        self, dataset_id: str, body: models.DatasetVersionCreate
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        run_ids = await self._select(body.selection) if body.selection is not None else []
        semaphore = asyncio.Semaphore(_FREEZE_CONCURRENCY)

        async def read(run_id: str) -> dict[str, Any]:
            async with semaphore:
                return await self.outcomes.get(run_id)

        outcomes = await asyncio.gather(*(read(r) for r in run_ids))
        examples: list[dict[str, Any]] = []
        for outcome in outcomes:
            examples.append(
                {
                    # The same run frozen into two versions is the same example.
                    "example_id": str(uuid.uuid5(_NAMESPACE, f"{dataset_id}:{outcome['run_id']}")),
                    "inputs": outcome["inputs"],
                    "outputs": outcome["outputs"],
                    "metadata": outcome["metadata"],
                    "source": {
                        key: outcome[key]
                        for key in ("run_id", "thread_id", "assistant_id", "graph_id", "status", "created_at")
                    },
                    "nodes": outcome["nodes"],
                    "trajectory": outcome["trajectory"],
                    "tool_calls": outcome["tool_calls"],
                    "latency_ms": outcome["latency_ms"],
                    "steps": outcome["steps"],
                    "error": outcome["error"],
                }
            )
        for hand in body.examples or []:
            content = json.dumps([hand.inputs, hand.outputs, hand.metadata], sort_keys=True, default=str)
            examples.append(
                {
                    "example_id": str(uuid.uuid5(_NAMESPACE, f"{dataset_id}:hand:{content}")),
                    "inputs": hand.inputs,
                    "outputs": hand.outputs,
                    "metadata": hand.metadata or {},
                    "source": None,
                    "nodes": [],
                    "trajectory": [],
                    "tool_calls": [],
                    "latency_ms": None,
                    "steps": None,
                    "error": None,
                }
            )
        if not examples:
            what = "no selection and no examples were given"
            if body.selection is not None:
                statuses = body.selection.status or AT_REST
                what = f"no run matches the selection (statuses {statuses})"
            raise EmptySelection(f"a dataset version needs at least one example: {what}")
        seen: set[str] = set()
        unique: list[dict[str, Any]] = []
        for example in examples:
            if example["example_id"] not in seen:
                seen.add(example["example_id"])
                unique.append({**example, "index": len(unique)})
        selection = body.selection.model_dump(mode="json", exclude_none=True) if body.selection else None
        return unique, selection

    async def create(self, body: models.DatasetCreate) -> dict[str, Any]:
        existing = await self._row(body.name)
        if existing is not None and existing[1] == body.name:
            if body.if_exists == "new_version":
                return await self.add_version(existing[0], body)
            raise DatasetExists(
                f"a dataset named {body.name!r} already exists (version {existing[4]}); pick another "
                'name, delete it, or pass if_exists="new_version" to add a version'
            )
        dataset_id = str(uuid.uuid4())
        examples, selection = await self._freeze(dataset_id, body)
        created = NewEvent(
            ev.DATASET_CREATED,
            {
                "dataset_id": dataset_id,
                "name": body.name,
                "description": body.description,
                "metadata": body.metadata or {},
            },
        )
        version = self._version_event(1, examples, selection, body.description)
        try:
            await self.store.append(f"dataset:{dataset_id}", 0, [created, version])
        except psycopg.errors.UniqueViolation:
            raise DatasetExists(f"a dataset named {body.name!r} already exists") from None
        return await self.get(dataset_id)

    @staticmethod
    def _version_event(
        version: int,
        examples: list[dict[str, Any]],
        selection: dict[str, Any] | None,
        description: str | None,
    ) -> NewEvent:
        return NewEvent(
            ev.DATASET_VERSION_ADDED,
            {"version": version, "selection": selection, "description": description, "examples": examples},
        )

    async def add_version(self, ref: str, body: models.DatasetVersionCreate) -> dict[str, Any]:
        dataset_id = (await self.row(ref))[0]
        examples, selection = await self._freeze(dataset_id, body)
        for _ in range(5):
            row = await self.row(dataset_id)
            head = await self.store.stream_version(f"dataset:{dataset_id}")
            event = self._version_event(int(row[4]) + 1, examples, selection, body.description)
            try:
                await self.store.append(f"dataset:{dataset_id}", head, [event])
            except VersionConflict:  # a version added meanwhile: number ours after it
                continue
            return await self.get(dataset_id)
        raise Conflict(f"dataset {ref!r} kept changing while adding a version")

    async def delete(self, ref: str) -> None:
        dataset_id, name, *_ = await self.row(ref)
        await self.store.append(
            f"dataset:{dataset_id}",
            None,
            [NewEvent(ev.DATASET_DELETED, {"dataset_id": dataset_id, "name": name})],
        )


#: First key of the advisory lock a server holds while it runs an experiment ("DG" + 1).
EXPERIMENT_LOCK_CLASS = 0x44_47_01
_EXPERIMENT_COLUMNS = (
    "experiment_id::text, name, dataset_id::text, dataset_name, dataset_version, assistant_id::text, "
    "assistant_version, graph_id, config, evaluators, concurrency, metadata, status, example_count, "
    "result_count, passed, failed, errors, created_at, updated_at, completed_at, runner, "
    # Running on a server now: that server holds the experiment's advisory lock (see
    # api.experiment_runner). int4 -> oid wraps negatives, as pg_locks shows the keys.
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    f"AND l.classid = {EXPERIMENT_LOCK_CLASS}::oid AND l.objid = hashtext(experiment_id::text)::oid)"
)
_RESULT_COLUMNS = (
    "experiment_id::text, example_id, idx, run_id::text, status, verdict, outputs, error, scores, "
    "latency_ms, steps, nodes, recorded_at, seq"
)


def _result_json(row: tuple[Any, ...]) -> dict[str, Any]:
    (experiment_id, example_id, index, run_id, status, verdict, outputs, error, scores, latency, steps,
     nodes, recorded, seq) = row  # fmt: skip
    return {
        "experiment_id": experiment_id,
        "example_id": example_id,
        "index": index,
        "run_id": run_id,
        "status": status,
        "verdict": verdict,
        "outputs": plain(outputs),
        "error": error,
        "scores": plain(scores or []),
        "latency_ms": latency,
        "steps": steps,
        "nodes": plain(nodes or []),
        "recorded_at": iso(recorded),
        "seq": seq,
    }


class Experiments:
    def __init__(
        self, store: PostgresEventStore, datasets: Datasets, assistants: Assistants, outcomes: Outcomes
    ) -> None:
        self.store = store
        self.datasets = datasets
        self.assistants = assistants
        self.outcomes = outcomes

    async def _rows(self, where: str, params: Sequence[Any], tail: str = "") -> list[dict[str, Any]]:
        rows = await self.store._query(
            f"SELECT {_EXPERIMENT_COLUMNS} FROM duragraph.experiments WHERE {where} {tail}", params
        )
        out = []
        for row in rows:
            (experiment_id, name, dataset_id, dataset_name, dataset_version, assistant_id, assistant_version,
             graph_id, config, evaluators, concurrency, metadata, status, example_count, result_count,
             passed, failed, errors, created, updated, completed, runner, running) = row  # fmt: skip
            out.append(
                {
                    "experiment_id": experiment_id,
                    "name": name,
                    "dataset_id": dataset_id,
                    "dataset_name": dataset_name,
                    "dataset_version": dataset_version,
                    "assistant_id": assistant_id,
                    "assistant_version": assistant_version,
                    "graph_id": graph_id,
                    "config": plain(config or {}),
                    "evaluators": plain(evaluators or []),
                    "concurrency": concurrency,
                    "metadata": plain(metadata or {}),
                    "status": status,
                    "example_count": example_count,
                    "result_count": result_count,
                    "passed": passed,
                    "failed": failed,
                    "errors": errors,
                    "mean_scores": {},
                    "created_at": iso(created),
                    "updated_at": iso(updated),
                    "completed_at": iso(completed),
                    "runner": runner,
                    "running": bool(running),
                }
            )
        if out:
            means = await self.store._query(
                "SELECT experiment_id::text, s->>'name', avg((s->>'score')::float8) "
                "FROM duragraph.experiment_results, jsonb_array_elements(scores) s "
                "WHERE experiment_id = ANY(%s::uuid[]) AND jsonb_typeof(s->'score') = 'number' "
                "GROUP BY 1, 2 ORDER BY 2",
                ([e["experiment_id"] for e in out],),
            )
            by_id = {e["experiment_id"]: e for e in out}
            for experiment_id, name, mean in means:
                by_id[experiment_id]["mean_scores"][name] = float(mean)
        return out

    async def get(self, experiment_id: str) -> dict[str, Any]:
        eid = _uuid(experiment_id)
        found = await self._rows("experiment_id = %s", (eid,)) if eid else []
        if not found:
            raise NotFound(f"experiment {experiment_id} does not exist")
        return found[0]

    async def search(self, query: models.ExperimentQuery) -> list[dict[str, Any]]:
        where, params = "true", []
        if query.dataset:
            dataset_id = (await self.datasets.row(query.dataset))[0]
            where, params = "dataset_id = %s", [dataset_id]
        return await self._rows(
            where, (*params, query.limit, query.offset), "ORDER BY created_at DESC LIMIT %s OFFSET %s"
        )

    async def _assistant(self, ref: str, version: int | None) -> dict[str, Any]:
        assistant_id = self.assistants.resolve_id(ref)
        try:
            current = await self.assistants.get(assistant_id)
        except NotFound:
            existed = await self.store.stream_version(f"assistant:{assistant_id}") > 0
            raise NotFound(
                f"assistant {ref} no longer exists (deleted)"
                if existed
                else f"assistant {ref} does not exist"
            ) from None
        if version is None:
            return current
        rows = await self.store._query(
            "SELECT graph_id, config FROM duragraph.assistant_versions WHERE assistant_id = %s AND version = %s",
            (assistant_id, version),
        )
        if not rows:
            raise NotFound(f"assistant {ref} has no version {version} (latest is {current['version']})")
        return {**current, "graph_id": rows[0][0], "config": plain(rows[0][1] or {}), "version": version}

    async def create(self, body: models.ExperimentCreate) -> dict[str, Any]:
        evaluators = [e.model_dump(mode="json", exclude_none=True) for e in body.evaluators]
        for spec in evaluators:
            # A built-in that would not rebuild (an unknown one, bad kwargs, a regex that does not
            # compile) is refused now, not when a runner meets it. A function's source is not run
            # here: only the notebook that records it executes it.
            if spec.get("builtin"):
                try:
                    evaluator_from_spec(spec)
                except EvaluatorError as err:
                    raise InvalidRequest(f"evaluator {spec.get('name')!r}: {err}") from None
        dataset_id, dataset_name, _d, _m, latest, *_ = await self.datasets.row(body.dataset)
        version = latest if body.dataset_version is None else body.dataset_version
        examples = await self.datasets.version_examples(dataset_id, version)
        assistant = await self._assistant(body.assistant_id, body.assistant_version)
        experiment_id = str(uuid.uuid4())
        name = body.name or f"{dataset_name} v{version} · {assistant['name']} · {experiment_id[:8]}"
        data = {
            "experiment_id": experiment_id,
            "name": name,
            "dataset_id": dataset_id,
            "dataset_name": dataset_name,
            "dataset_version": version,
            "assistant_id": assistant["assistant_id"],
            "assistant_version": assistant["version"],
            "graph_id": assistant["graph_id"],
            "config": assistant["config"],
            "evaluators": evaluators,
            "concurrency": body.concurrency,
            "metadata": body.metadata or {},
            "example_count": len(examples),
        }
        await self.store.append(f"experiment:{experiment_id}", 0, [NewEvent(ev.EXPERIMENT_CREATED, data)])
        return await self.get(experiment_id)

    async def results(self, experiment_id: str) -> list[dict[str, Any]]:
        experiment = await self.get(experiment_id)
        rows = await self.store._query(
            f"SELECT {_RESULT_COLUMNS} FROM duragraph.experiment_results WHERE experiment_id = %s "
            "ORDER BY idx, example_id",
            (experiment["experiment_id"],),
        )
        return [_result_json(r) for r in rows]

    async def _result(self, experiment_id: str, example_id: str) -> dict[str, Any] | None:
        rows = await self.store._query(
            f"SELECT {_RESULT_COLUMNS} FROM duragraph.experiment_results "
            "WHERE experiment_id = %s AND example_id = %s",
            (experiment_id, example_id),
        )
        return _result_json(rows[0]) if rows else None

    async def record(self, experiment_id: str, body: models.ResultCreate) -> dict[str, Any]:
        experiment = await self.get(experiment_id)
        experiment_id = experiment["experiment_id"]
        examples = await self.datasets.version_examples(
            experiment["dataset_id"], experiment["dataset_version"]
        )
        example = next((e for e in examples if e["example_id"] == body.example_id), None)
        if example is None:
            raise NotFound(
                f"example {body.example_id} is not in dataset {experiment['dataset_name']!r} "
                f"version {experiment['dataset_version']}"
            )
        scores = [s.model_dump(mode="json") for s in body.scores]
        names = [s["name"] for s in scores]
        if len(set(names)) != len(names):
            raise InvalidRequest(f"each evaluator may score an example once; got {sorted(names)}")
        data: dict[str, Any] = {"example_id": body.example_id, "index": example["index"], "scores": scores}
        if body.run_id is not None:
            outcome = await self.outcomes.get(str(body.run_id))
            if outcome["status"] in {"pending", "running"}:
                raise Conflict(f"run {body.run_id} is still {outcome['status']}: record it once it has ended")
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
            if not body.error and body.status in (None, "success"):
                raise InvalidRequest(
                    "a result without a run_id must say what went wrong: give error (and status)"
                )
            data.update(run_id=None, status=body.status or "error", outputs=None, error=body.error, nodes=[])
        data["verdict"] = cmp.verdict(data["status"], data["error"], scores)
        existing = await self._result(experiment_id, body.example_id)
        if existing is not None:
            return self._same_or_conflict(existing, data)
        if experiment["status"] == "completed":
            raise Conflict(f"experiment {experiment_id} is completed: it takes no more results")
        try:
            await self.store.append(
                f"experiment:{experiment_id}", None, [NewEvent(ev.EXPERIMENT_RESULT_RECORDED, data)]
            )
        except psycopg.errors.UniqueViolation:
            # Recorded meanwhile by a concurrent request: idempotent if it is the same result.
            existing = await self._result(experiment_id, body.example_id)
            assert existing is not None
            return self._same_or_conflict(existing, data)
        found = await self._result(experiment_id, body.example_id)
        assert found is not None
        return found

    @staticmethod
    def _same_or_conflict(existing: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        if existing["run_id"] == data.get("run_id") and existing["scores"] == plain(data["scores"]):
            return existing
        raise Conflict(
            f"example {data['example_id']} already has a different result in this experiment "
            f"(run {existing['run_id']}); results are recorded once"
        )

    async def complete(self, experiment_id: str) -> dict[str, Any]:
        experiment = await self.get(experiment_id)
        if experiment["status"] != "completed":
            await self.store.append(
                f"experiment:{experiment['experiment_id']}",
                None,
                [NewEvent(ev.EXPERIMENT_COMPLETED, {"result_count": experiment["result_count"]})],
            )
        return await self.get(experiment_id)

    async def compare(self, body: models.CompareBody) -> dict[str, Any]:
        base = await self.get(str(body.base))
        candidate = await self.get(str(body.candidate))
        if base["dataset_id"] != candidate["dataset_id"]:
            raise InvalidRequest(
                f"experiments of different datasets cannot be compared example by example "
                f"({base['dataset_name']!r} and {candidate['dataset_name']!r})"
            )
        compared = cmp.compare_results(
            await self.results(str(body.base)), await self.results(str(body.candidate))
        )
        return {"base": base, "candidate": candidate, **compared}

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

    async def compare_runs(self, body: models.CompareBody) -> dict[str, Any]:
        base = await self.outcomes.get(str(body.base))
        candidate = await self.outcomes.get(str(body.candidate))
        return cmp.compare_runs(base, candidate)
