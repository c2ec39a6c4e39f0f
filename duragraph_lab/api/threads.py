"""Threads: create, read, search, edit state, history, copy, delete."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from duragraph_lab.api import models
from duragraph_lab.api.checkpoints import Checkpoints, checkpoint_ref, thread_interrupts, thread_state
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.domain.run import RunState
from duragraph_lab.engine.commands import InvalidRunRequest
from duragraph_lab.worker.control import Checkpoint, NotFound, RunControl

_COLUMNS = "thread_id::text, status, metadata, created_at, updated_at, last_run_id::text"


def _sort_column(name: str | None) -> str:
    if name == "state_updated_at":
        return "updated_at"
    return name if name in ("thread_id", "status", "created_at", "updated_at") else "created_at"


class Threads:
    def __init__(self, control: RunControl, checkpoints: Checkpoints) -> None:
        self.control = control
        self.store = control.store
        self.checkpoints = checkpoints

    @staticmethod
    def thread_id(value: str) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise NotFound(f"thread {value!r} is not a valid id") from None

    async def _row(self, thread_id: str) -> tuple[Any, ...]:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.threads WHERE thread_id = %s", (self.thread_id(thread_id),)
        )
        if not rows:
            raise NotFound(f"thread {thread_id} does not exist")
        return rows[0]

    async def _json(self, row: tuple[Any, ...], select: Sequence[str] | None = None) -> dict[str, Any]:
        thread_id, status, metadata, created, updated, last_run = row
        out: dict[str, Any] = {
            "thread_id": thread_id,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "state_updated_at": iso(updated),
            "metadata": plain(metadata or {}),
            "status": status,
            "config": {},
        }
        if select is None or "values" in select or "interrupts" in select:
            latest: RunState | None = await self.control.state(last_run) if last_run else None
            if latest is not None and await self.control.rolled_back(latest):
                point = await self.checkpoints.latest(thread_id)
                latest = point.state if point is not None else None
            out["values"] = plain(latest.values) if latest is not None else None
            out["interrupts"] = thread_interrupts(latest)
            if latest is not None and latest.error and status == "error":
                out["error"] = plain(latest.error)
        return {k: v for k, v in out.items() if k in select} if select else out

    async def get(self, thread_id: str) -> dict[str, Any]:
        return await self._json(await self._row(thread_id))

    async def create(self, body: models.ThreadCreate) -> dict[str, Any]:
        metadata = dict(body.metadata or {})
        if body.graph_id:
            metadata["graph_id"] = body.graph_id
        thread_id = await self.control.create_thread(body.thread_id, metadata, if_exists=body.if_exists)
        for superstep in body.supersteps or []:
            for update in superstep.updates:
                await self.update_state(thread_id, update)
        return await self.get(thread_id)

    async def patch(self, thread_id: str, body: models.ThreadPatch) -> dict[str, Any]:
        await self.control.update_thread(self.thread_id(thread_id), body.metadata)
        return await self.get(thread_id)

    async def delete(self, thread_id: str) -> None:
        await self.control.delete_thread(self.thread_id(thread_id))

    async def copy(self, thread_id: str, body: models.ThreadCopy | None = None) -> dict[str, Any]:
        new_id = await self.control.copy_thread(self.thread_id(thread_id), (body.metadata if body else None))
        return await self.get(new_id)

    async def prune(self, body: models.ThreadPrune) -> dict[str, Any]:
        pruned = 0
        for thread_id in body.thread_ids:
            try:
                await self.control.delete_thread(self.thread_id(thread_id))
                pruned += 1
            except NotFound:
                continue
        return {"pruned_count": pruned}

    # -- search --------------------------------------------------------------------------------
    @staticmethod
    def _where(
        metadata: Mapping[str, Any] | None, status: str | None, ids: list[str] | None = None
    ) -> tuple[str, list[Any]]:
        where: list[str] = ["true"]
        params: list[Any] = []
        if metadata:
            where.append("metadata @> %s::jsonb")
            params.append(json.dumps(metadata))
        if status:
            where.append("status = %s")
            params.append(status)
        if ids is not None:
            valid: list[str] = []
            for value in ids:
                try:
                    valid.append(str(uuid.UUID(str(value))))
                except ValueError:
                    continue
            where.append("thread_id = ANY(%s::uuid[])")
            params.append(valid)
        return " AND ".join(where), params

    async def search(self, body: models.ThreadSearch) -> tuple[list[dict[str, Any]], int]:
        where, params = self._where(body.metadata, body.status, body.ids)
        order = f"{_sort_column(body.sort_by)} {'ASC' if body.sort_order == 'asc' else 'DESC'}, thread_id"
        if not body.values:
            rows = await self.store._query(
                f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.threads WHERE {where} "
                f"ORDER BY {order} LIMIT %s OFFSET %s",
                (*params, body.limit, body.offset),
            )
            total = int(rows[0][-1]) if rows else 0
            return [await self._json(r[:-1], body.select) for r in rows], total
        # Values are not stored per thread: match them on the folded state (a scan).
        matched = await self._matching_values(where, params, order, body.values)
        page = matched[body.offset : body.offset + body.limit]
        return [await self._json(r, body.select) for r in page], len(matched)

    async def _matching_values(
        self, where: str, params: list[Any], order: str, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.threads WHERE {where} ORDER BY {order}", params
        )
        out = []
        for row in rows:
            if row[5] is None:
                continue
            state = await self.control.state(row[5])
            current = plain(state.values)
            if all(current.get(k) == plain(v) for k, v in values.items()):
                out.append(row)
        return out

    async def count(self, body: models.ThreadCount) -> int:
        where, params = self._where(body.metadata, body.status)
        if body.values:
            return len(await self._matching_values(where, params, "thread_id", body.values))
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.threads WHERE {where}", params)
        return int(rows[0][0])

    # -- state ---------------------------------------------------------------------------------
    async def state(
        self, thread_id: str, checkpoint_id: str | None = None, *, subgraphs: bool = False
    ) -> dict[str, Any]:
        thread_id = self.thread_id(thread_id)
        point = (
            await self.checkpoints.at(thread_id, checkpoint_id)
            if checkpoint_id
            else await self.checkpoints.latest(thread_id)
        )
        nested = await self.checkpoints.subgraph_states(thread_id, point) if subgraphs and point else None
        return thread_state(thread_id, point, subgraphs=nested, live=checkpoint_id is None)

    async def resolve_checkpoint(
        self, thread_id: str, ref: str | models.CheckpointRef | None
    ) -> Checkpoint | None:
        if ref is None:
            return None
        checkpoint_id = ref if isinstance(ref, str) else ref.checkpoint_id
        if not checkpoint_id:
            return None
        if not isinstance(ref, str) and ref.checkpoint_ns:
            raise InvalidRunRequest("checkpoints inside subgraphs (checkpoint_ns) cannot be used here")
        run_id, seq = await self.checkpoints.locate(self.thread_id(thread_id), checkpoint_id)
        return Checkpoint(run_id, seq)

    async def update_state(self, thread_id: str, body: models.StateUpdate) -> dict[str, Any]:
        thread_id = self.thread_id(thread_id)
        if body.command is not None:
            raise InvalidRunRequest("a Command cannot be applied by a state update: start a run with it")
        checkpoint = await self.resolve_checkpoint(thread_id, body.checkpoint_id or body.checkpoint)
        values: Any = body.values
        if isinstance(values, list):
            if len(values) != 1 or not isinstance(values[0], Mapping):
                raise InvalidRunRequest("values must be an object of state keys (or a list holding one)")
            values = values[0]
        run_id, seq = await self.control.update_state(
            thread_id, values or {}, as_node=body.as_node, checkpoint=checkpoint
        )
        events = await self.store.read_stream(f"run:{run_id}", after_seq=seq - 1, limit=1)
        ref = checkpoint_ref(thread_id, events[0] if events else None)
        return {
            "checkpoint": ref,
            "configurable": ref,
            "checkpoint_id": ref["checkpoint_id"] if ref else None,
        }

    async def history(self, thread_id: str, body: models.HistoryQuery) -> list[dict[str, Any]]:
        thread_id = self.thread_id(thread_id)
        if body.checkpoint is not None and body.checkpoint.checkpoint_ns:
            return []  # subgraph histories are not kept apart from their parent's
        before = None
        ref = body.before
        before_id = ref if isinstance(ref, str) else ref.checkpoint_id if ref is not None else None
        if before_id:
            before = await self.checkpoints.locate(thread_id, before_id)
        points = await self.checkpoints.history(
            thread_id, limit=body.limit, before=before, metadata=body.metadata
        )
        return [thread_state(thread_id, p, live=False) for p in points]
