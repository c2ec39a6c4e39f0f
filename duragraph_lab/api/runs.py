"""Runs over HTTP: create (on a thread or stateless), read, wait, cancel, delete, and DuraGraph's
extras: the event log, spans, forks and re-execution reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from duragraph_lab.api import models
from duragraph_lab.api.checkpoints import interrupt_json
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.api.streaming import error_part
from duragraph_lab.api.threads import Threads
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain import codec
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.run import RunState, RunStatus
from duragraph_lab.engine import commands
from duragraph_lab.engine.commands import InvalidRunRequest
from duragraph_lab.worker.control import NotFound, RunCommand, RunControl, RunRef

_COLUMNS = (
    "run_id::text, thread_id::text, assistant_id::text, graph_id, status, metadata, kwargs, multitask_strategy, "
    "error, step, attempt, worker_id, created_at, updated_at, started_at, ended_at"
)
_AT_REST = ("success", "error", "interrupted", "timeout", "cancelled")


class WorkerUnavailable(DuraGraphError):
    """No worker serving the graph answered (re-execution needs the graph's code)."""

    code = "worker_unavailable"


def _run_filter(body: models.RunFilter) -> tuple[str, list[Any]]:
    # State updates are recorded as runs of their own kind: not runs a user started.
    where = ["kwargs->>'kind' IS DISTINCT FROM 'update_state'"]
    params: list[Any] = []
    if body.status is not None:
        where.append("status = ANY(%s)")
        params.append([body.status] if isinstance(body.status, str) else list(body.status))
    for column, value in (("assistant_id", body.assistant_id), ("thread_id", body.thread_id)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if body.graph_id is not None:
        where.append("graph_id = %s")
        params.append(body.graph_id)
    if body.ids is not None:
        where.append("run_id = ANY(%s::uuid[])")
        params.append([str(i) for i in body.ids])
    if body.metadata:
        where.append("metadata @> %s::jsonb")
        params.append(json.dumps(body.metadata))
    if body.created_after is not None:
        where.append("created_at > %s")
        params.append(body.created_after)
    if body.created_before is not None:
        where.append("created_at < %s")
        params.append(body.created_before)
    return " AND ".join(where), params


def run_json(row: tuple[Any, ...], select: list[str] | None = None) -> dict[str, Any]:
    (run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs, strategy, error, step, attempt,
     worker_id, created, updated, started, ended) = row  # fmt: skip
    out = {
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "graph_id": graph_id,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "status": status,
        "metadata": plain(metadata or {}),
        "kwargs": plain(kwargs or {}),
        "multitask_strategy": strategy,
        "error": plain(error),
        "step": step,
        "attempt": attempt,
        "worker_id": worker_id,
        "started_at": iso(started),
        "ended_at": iso(ended),
    }
    return {k: v for k, v in out.items() if k in select} if select else out


def join_result(state: RunState) -> dict[str, Any]:
    """What ``/wait`` and ``/join`` answer: the final values; ``__interrupt__`` when the run
    paused for a human; ``__error__`` when it failed."""
    if state.status in (RunStatus.ERROR, RunStatus.TIMEOUT):
        return {"__error__": error_part(state.error)}
    values = plain(state.values)
    if state.status is RunStatus.INTERRUPTED:
        values["__interrupt__"] = [interrupt_json(i) for i in state.interrupts]
    return dict(values)


class Runs:
    def __init__(self, control: RunControl, threads: Threads, subjects: Subjects) -> None:
        self.control = control
        self.store = control.store
        self.threads = threads
        self.subjects = subjects

    @property
    def nc(self) -> NATS | None:
        return self.control.nc

    @staticmethod
    def run_id(value: str) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise NotFound(f"run {value!r} is not a valid id") from None

    # -- reading -------------------------------------------------------------------------------
    async def row(self, run_id: str, thread_id: str | None = None) -> tuple[Any, ...]:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.runs WHERE run_id = %s", (self.run_id(run_id),)
        )
        if not rows or (thread_id is not None and rows[0][1] != self.threads.thread_id(thread_id)):
            where = f" in thread {thread_id}" if thread_id else ""
            raise NotFound(f"run {run_id} does not exist{where}")
        return rows[0]

    async def get(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        return run_json(await self.row(run_id, thread_id))

    async def list_runs(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
        select: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        thread_id = self.threads.thread_id(thread_id)
        if await self.control.thread_row(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        where, params = "thread_id = %s AND kwargs->>'kind' IS DISTINCT FROM 'update_state'", [thread_id]
        if status:
            where += " AND status = %s"
            params.append(status)
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.runs WHERE {where} ORDER BY created_at DESC, run_id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [run_json(r, select) for r in rows]

    async def search(self, body: models.RunSearch) -> tuple[list[dict[str, Any]], int]:
        """Runs across threads, newest first unless told otherwise, and how many match."""
        where, params = _run_filter(body)
        column = body.sort_by or "created_at"
        order = f"{column} {'ASC' if body.sort_order == 'asc' else 'DESC'}, run_id"
        rows = await self.store._query(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.runs WHERE {where} "
            f"ORDER BY {order} LIMIT %s OFFSET %s",
            (*params, body.limit, body.offset),
        )
        total = int(rows[0][-1]) if rows else await self.count(body)
        return [run_json(r[:-1]) for r in rows], total

    async def count(self, body: models.RunFilter) -> int:
        where, params = _run_filter(body)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.runs WHERE {where}", params)
        return int(rows[0][0])

    # -- creating ------------------------------------------------------------------------------
    async def create(
        self, thread_id: str | None, body: models.RunCreateStateful | models.RunCreateStateless
    ) -> RunRef:
        stateless = isinstance(body, models.RunCreateStateless)
        command = None
        if body.command is not None:
            update = body.command.update
            if isinstance(update, list):
                raise InvalidRunRequest("command.update must be an object of state keys")
            command = RunCommand(
                resume=body.command.resume,
                has_resume=body.command.has_resume,
                update=update,
                goto=body.command.goto_list(),
            )
        checkpoint = None
        if isinstance(body, models.RunCreateStateful) and thread_id is not None:
            checkpoint = await self.threads.resolve_checkpoint(
                thread_id, body.checkpoint_id or body.checkpoint
            )
        kwargs = {
            "stream_mode": body.stream_modes,
            "stream_subgraphs": body.stream_subgraphs,
            "on_disconnect": body.on_disconnect,
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "command": body.command.model_dump(exclude_unset=True) if body.command is not None else None,
            "context": body.context,
            "temporary": stateless and getattr(body, "on_completion", "keep") == "delete",
            "resumable": True,
            "durability": "sync",
        }
        strategy = body.multitask_strategy or ("reject" if stateless else "enqueue")
        kwargs["multitask_strategy"] = strategy
        create_thread = stateless or getattr(body, "if_not_exists", None) == "create"
        return await self.control.create_run(
            body.assistant_id,
            body.input,
            thread_id=thread_id,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            after_seconds=body.after_seconds,
            create_thread=create_thread,
            multitask_strategy=strategy,
            supersede_interrupted=True,
            command=command,
            checkpoint=checkpoint,
            kwargs=plain(kwargs),
            temporary=bool(kwargs["temporary"]),
        )

    async def precheck(self, body: models.RunCreateStateless) -> None:
        """Raise what :meth:`create` would for a bad assistant or input, writing nothing (a
        batch checks all its runs before it starts any)."""
        target = await self.control.target(body.assistant_id)
        commands.normalize_input(body.input, target.channels)

    # -- waiting -------------------------------------------------------------------------------
    async def wait_at_rest(self, run_id: str, timeout: float | None = None) -> RunState:
        """Wait until the run is finished or paused; woken by its events on NATS, polling too."""
        run_id = self.run_id(run_id)
        wake = asyncio.Event()
        sub: Any = None
        if self.nc is not None and self.nc.is_connected:

            async def on_event(_msg: Any) -> None:
                wake.set()

            with contextlib.suppress(Exception):
                sub = await self.nc.subscribe(self.subjects.stream(f"run:{run_id}"), cb=on_event)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.05
        try:
            while True:
                wake.clear()
                rows = await self.store._query(
                    "SELECT status FROM duragraph.runs WHERE run_id = %s", (run_id,)
                )
                if not rows or rows[0][0] in _AT_REST:
                    state = await self.control.state(run_id)
                    if state.status not in (RunStatus.PENDING, RunStatus.RUNNING):
                        return state
                if deadline is not None and loop.time() >= deadline:
                    raise TimeoutError(f"run {run_id} is still running after {timeout}s")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await wake.wait()
                delay = min(delay * 2, 1.0)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def join(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        await self.row(run_id, thread_id)
        return join_result(await self.wait_at_rest(run_id))

    # -- cancelling and deleting ---------------------------------------------------------------
    async def cancel(self, run_id: str, thread_id: str | None, action: str) -> None:
        await self.row(run_id, thread_id)
        await self.control.cancel(run_id, action=action)

    async def cancel_many(self, body: models.RunsCancel, action: str) -> int:
        if body.status is not None:
            statuses = ["pending", "running"] if body.status == "all" else [body.status]
            rows = await self.store._query(
                "SELECT run_id::text FROM duragraph.runs WHERE status = ANY(%s) ORDER BY created_at",
                (statuses,),
            )
            run_ids = [r[0] for r in rows]
        else:
            run_ids = []
            for run_id in body.run_ids or []:
                row = await self.row(run_id, body.thread_id)
                if row[4] in ("pending", "running", "interrupted"):
                    run_ids.append(row[0])
        if not run_ids:
            raise NotFound("no matching pending or running runs to cancel")
        cancelled = 0
        for run_id in run_ids:
            with contextlib.suppress(DuraGraphError):
                await self.control.cancel(run_id, action=action)
                cancelled += 1
        return cancelled

    async def delete(self, run_id: str, thread_id: str | None) -> None:
        await self.row(run_id, thread_id)
        await self.control.delete_run(run_id)

    # -- DuraGraph extras ----------------------------------------------------------------------
    async def events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        run_id = self.run_id(run_id)
        page = await self.store.read_stream(f"run:{run_id}", after_seq=after, limit=limit + 1)
        if not page and after == 0 and await self.store.stream_version(f"run:{run_id}") == 0:
            raise NotFound(f"run {run_id} does not exist")
        more = len(page) > limit
        page = page[:limit]
        return {
            "run_id": run_id,
            "events": [event_json(e) for e in page],
            "next_after": page[-1].seq if page and more else None,
            "has_more": more,
        }

    async def spans(self, run_id: str) -> list[dict[str, Any]]:
        run_id = self.run_id(run_id)
        await self.row(run_id)
        rows = await self.store._query(
            "SELECT ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, error, seq "
            "FROM duragraph.spans WHERE run_id = %s ORDER BY seq",
            (run_id,),
        )
        keys = (
            "ns",
            "task",
            "attempt",
            "step",
            "node",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "error",
            "seq",
        )
        out = []
        for r in rows:
            span = dict(zip(keys, r, strict=True))
            span["started_at"], span["ended_at"] = iso(span["started_at"]), iso(span["ended_at"])
            span["error"] = plain(span["error"])
            span["run_id"] = run_id
            out.append(span)
        return out

    async def fork(self, run_id: str, body: models.RunFork) -> RunRef:
        await self.row(run_id)
        return await self.control.fork(run_id, body.seq, update=body.update, as_node=body.as_node)

    async def replay(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Ask a worker that serves the run's graph to re-execute it with its current code."""
        row = await self.row(run_id)
        graph_id = row[3]
        if self.nc is None or not self.nc.is_connected:
            raise WorkerUnavailable("NATS is not connected: no worker can be asked to re-execute the run")
        request = json.dumps({"run_id": row[0]}).encode()
        try:
            reply = await self.nc.request(self.subjects.replay_rpc(graph_id), request, timeout=timeout)
        except NoRespondersError:
            raise WorkerUnavailable(
                f"no worker serving graph {graph_id!r} is running: start one (duragraph-lab worker ...) to re-execute"
            ) from None
        except NatsTimeout:
            raise WorkerUnavailable(
                f"no worker serving graph {graph_id!r} answered within {timeout}s"
            ) from None
        body: Mapping[str, Any] = json.loads(reply.data)
        if not body.get("ok"):
            raise WorkerUnavailable(f"the worker could not re-execute the run: {body.get('message')}")
        report = dict(codec.from_jsonable(body["report"]))
        report["worker_id"] = body.get("worker_id")
        return plain(report)  # type: ignore[no-any-return]


def event_json(event: Any) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "stream_id": event.stream_id,
        "version": event.version,
        "event_id": str(event.event_id),
        "type": event.type,
        "data": plain(event.data),
        "meta": plain(event.meta),
        "recorded_at": iso(event.recorded_at),
    }
