"""LangGraph's checkpoints as read models (``lg_checkpoints``, ``lg_writes``, migration 0011): the
queries of the event-store checkpointer (:mod:`duragraph_lab.langgraph.checkpointer`). A row
points at the event that holds the serialized checkpoint or write (by ``seq``); one statement
returns a checkpoint with its pending writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain.events.langgraph import (
    StoredValue,
    Typed,
    WriteValue,
    decode_typed,
    decode_value,
    decode_write_value,
)
from duragraph_lab.store.postgres import PostgresEventStore

#: (task_id, channel, value): a pending write, in LangGraph's order (task path, task id, idx).
StoredWrite = tuple[str, str, WriteValue]


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    metadata: dict[str, Any]
    #: serialized, or (the newer events) as plain JSON
    checkpoint: Typed | dict[str, Any]
    writes: list[StoredWrite]
    #: channel -> its value at the checkpoint's version of it (events of the delta format), then,
    #: while that value is a :class:`ListAppend`, its base's value, down to one stored whole.
    values: dict[str, list[StoredValue]]
    #: When ``checkpoint`` holds only the versions that changed since another checkpoint: the
    #: checkpoints its versions come from, nearest first, each with the parent it changes from
    #: (langgraph/version_deltas.py's ``rebuild``); empty otherwise.
    versions_chain: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)


# The writes of checkpoint c, in writes_sort_key order, as [[task_id, [idx, channel, type, value]], ...].
_WRITES = "duragraph.lg_pending_writes(c.thread_id, c.checkpoint_ns, c.checkpoint_id)"


# The value of a channel at a version in checkpoint c's thread and namespace: the first event that
# stored one (lg_blobs names the events that stored values at a version; which channels each holds
# at that version is read from the event). One index probe: LIMIT 1 also keeps PostgreSQL from
# folding this into a join that, without statistics on lg_blobs (a fresh database), scans every
# blob of the thread for each link of a long chain.
def _value_at(channel: str, version: str) -> str:
    return f"""SELECT bd.d->'blobs'->{channel} AS blob
                 FROM duragraph.lg_blobs b JOIN duragraph.events bev ON bev.seq = b.seq,
                      LATERAL (SELECT coalesce(bev.data->'langgraph_checkpoint', bev.data) AS d) bd
                WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns AND b.version = {version}
                  AND duragraph.lg_blob_version(bd.d, {channel}) = {version}
                ORDER BY b.seq LIMIT 1"""


# The values of checkpoint c's channel versions, as {channel: [value, its base's, ...]}: a value
# stored as an append to an earlier version (a "base") comes with the chain of its bases, down to
# one stored whole (older events have only those: chains of one).
_VALUES = f"""
    (WITH RECURSIVE chain(channel, blob, depth) AS (
        SELECT v.key, f.blob, 0
          FROM jsonb_each_text(duragraph.lg_merged_channel_versions(ed.d, vc.chain)) v,
               LATERAL ({_value_at("v.key", "v.value")}) f
        UNION ALL
        SELECT ch.channel, nxt.blob, ch.depth + 1
          FROM chain ch,
               LATERAL ({_value_at("ch.channel", "(ch.blob->>'base')")}) nxt
         WHERE jsonb_typeof(ch.blob) = 'object' AND ch.depth < 10000
    )
    SELECT coalesce(jsonb_object_agg(channel, blobs), '{{}}'::jsonb)
      FROM (SELECT channel, jsonb_agg(blob ORDER BY depth) AS blobs FROM chain GROUP BY channel) s)"""

# A checkpoint's metadata, from its event (e). With "metadata_of_run" (a run's root checkpoint
# inside its step_planned, since 2026-12-05) it leaves out the run_id, graph_id and assistant_id
# of the run's run_created (version 1 of the stream): put back.
_METADATA = """CASE WHEN jsonb_typeof(ed.d->'metadata') <> 'object' THEN '{}'::jsonb
     WHEN ed.d ? 'metadata_of_run'
     THEN ed.d->'metadata' || coalesce((SELECT jsonb_build_object('run_id', rc.data->'run_id', 'graph_id', rc.data->'graph_id',
                                                                  'assistant_id', rc.data->'assistant_id')
                                          FROM duragraph.events rc WHERE rc.stream_id = e.stream_id AND rc.version = 1), '{}'::jsonb)
     ELSE ed.d->'metadata' END"""

# A checkpoint stored with the versions that changed since another (version_deltas.py) comes
# with the chain of those it changes from (vc.chain, '[]' for one stored whole).
_SELECT = f"""
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, ed.d->>'parent_checkpoint_id', {_METADATA},
       ed.d->'checkpoint', vc.chain, {_WRITES}, {_VALUES}
  FROM duragraph.lg_checkpoints c JOIN duragraph.events e ON e.seq = c.seq,
       LATERAL (SELECT coalesce(e.data->'langgraph_checkpoint', e.data) AS d) ed,
       LATERAL (SELECT CASE WHEN ed.d ? 'versions_delta'
                            THEN duragraph.lg_versions_chain(e.stream_id, e.version, ed.d)
                            ELSE '[]'::jsonb END AS chain) vc"""


class PgLangGraphCheckpoints:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def get(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> StoredCheckpoint | None:
        """The checkpoint named, or the thread's latest in that namespace when ``checkpoint_id`` is None."""
        if checkpoint_id is None:
            # Its id first: a cheap probe of the primary key. A thread with no checkpoint (every
            # run on a new thread starts with this read) then costs no planning of the statement
            # below, which PostgreSQL plans anew on each connection for its first executions
            # (~1.3 ms of the server's time; docs/benchmarks.md, twelfth session).
            checkpoint_id = await self.latest_id(thread_id, checkpoint_ns)
            if checkpoint_id is None:
                return None
        sql = _SELECT + " WHERE c.thread_id = %s AND c.checkpoint_ns = %s"
        params: list[Any] = [thread_id, checkpoint_ns]
        if checkpoint_id is not None:
            sql += " AND c.checkpoint_id = %s"
            params.append(checkpoint_id)
        sql += " ORDER BY c.checkpoint_id DESC LIMIT 1"
        rows = await self.store._query(sql, params)
        return _stored(rows[0]) if rows else None

    async def latest_id(self, thread_id: str, checkpoint_ns: str) -> str | None:
        """The id of the thread's latest checkpoint in that namespace (what :meth:`get` with no id
        reads), without reading it."""
        rows = await self.store._query(
            "SELECT checkpoint_id FROM duragraph.lg_checkpoints WHERE thread_id = %s AND checkpoint_ns = %s "
            "ORDER BY checkpoint_id DESC LIMIT 1",
            (thread_id, checkpoint_ns),
        )
        return str(rows[0][0]) if rows else None

    async def list_checkpoints(
        self,
        *,
        thread_id: str | None,
        checkpoint_ns: str | None,
        checkpoint_id: str | None,
        before: str | None,
        metadata_filter: dict[str, Any] | None,
        limit: int | None,
    ) -> list[StoredCheckpoint]:
        """Newest first (checkpoint ids are time-ordered); every argument left None matches all."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("c.thread_id = %s", thread_id),
            ("c.checkpoint_ns = %s", checkpoint_ns),
            ("c.checkpoint_id = %s", checkpoint_id),
            ("c.checkpoint_id < %s", before),
        ):
            if value is not None:
                where.append(column)
                params.append(value)
        if metadata_filter:
            where.append(f"{_METADATA} @> %s::jsonb")
            params.append(json.dumps(codec.to_jsonable(metadata_filter)))
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY c.checkpoint_id DESC, c.thread_id, c.checkpoint_ns"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return [_stored(row) for row in await self.store._query(sql, params)]

    async def locations(self, thread_id: str, checkpoint_ids: list[str]) -> dict[str, tuple[str, int]]:
        """Where each of the thread's root checkpoints named is in the log: ``(stream_id, seq)``."""
        rows = await self.store._query(
            "SELECT c.checkpoint_id, e.stream_id, c.seq FROM duragraph.lg_checkpoints c "
            "JOIN duragraph.events e ON e.seq = c.seq "
            "WHERE c.thread_id = %s AND c.checkpoint_ns = '' AND c.checkpoint_id = ANY(%s)",
            (thread_id, checkpoint_ids),
        )
        return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}

    async def planned_tasks(
        self, thread_id: str, checkpoint_ns: str, checkpoint_ids: list[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """The tasks LangGraph planned from each checkpoint named, ``(task id, node)`` in order,
        as the executor recorded them (the ``step_planned`` after the checkpoint's event), or,
        for an edit's checkpoint, as the worker that made it recorded them (its
        ``state_updated``'s ``planned``, in the same commit)."""
        rows = await self.store._query(
            "SELECT c.checkpoint_id, coalesce(p.data->'planned'->'tasks', p.data->'tasks') "
            "FROM duragraph.lg_checkpoints c "
            "JOIN duragraph.events e ON e.seq = c.seq "
            "JOIN duragraph.events p ON p.stream_id = e.stream_id AND ("
            "(p.version >= e.version AND p.type = 'step_planned' AND p.data->>'checkpoint_id' = c.checkpoint_id) "
            "OR (p.version < e.version AND p.type = 'state_updated' "
            "AND p.data->'planned'->>'checkpoint_id' = c.checkpoint_id)) "
            "WHERE c.thread_id = %s AND c.checkpoint_ns = %s AND c.checkpoint_id = ANY(%s)",
            (thread_id, checkpoint_ns, checkpoint_ids),
        )
        return {str(r[0]): [(str(t["id"]), str(t["node"])) for t in r[1] or []] for r in rows}

    async def task_paths(
        self, thread_id: str, checkpoint_ns: str, checkpoint_ids: list[str]
    ) -> dict[tuple[str, str], str]:
        """``(checkpoint id, task id) -> task path`` of the tasks that saved writes there."""
        rows = await self.store._query(
            "SELECT DISTINCT w.checkpoint_id, w.task_id, coalesce(coalesce(e.data->'langgraph_writes', e.data)->>'task_path', '') "
            "FROM duragraph.lg_writes w JOIN duragraph.events e ON e.seq = w.seq "
            "WHERE w.thread_id = %s AND w.checkpoint_ns = %s AND w.checkpoint_id = ANY(%s)",
            (thread_id, checkpoint_ns, checkpoint_ids),
        )
        return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    async def namespaces(self, thread_id: str, checkpoint_nss: list[str]) -> list[str]:
        """Which of these namespaces have checkpoints in the thread (subgraphs that ran)."""
        rows = await self.store._query(
            "SELECT DISTINCT checkpoint_ns FROM duragraph.lg_checkpoints "
            "WHERE thread_id = %s AND checkpoint_ns = ANY(%s)",
            (thread_id, checkpoint_nss),
        )
        return [str(r[0]) for r in rows]

    async def thread_ids_of_runs(self, run_ids: list[str]) -> list[str]:
        rows = await self.store._query(
            "SELECT DISTINCT thread_id FROM duragraph.lg_checkpoints WHERE run_id = ANY(%s)", (run_ids,)
        )
        return [str(r[0]) for r in rows]


def _stored(row: tuple[Any, ...]) -> StoredCheckpoint:
    thread_id, ns, checkpoint_id, parent, metadata, checkpoint, links, writes, values = row
    return StoredCheckpoint(
        thread_id=str(thread_id),
        checkpoint_ns=str(ns),
        checkpoint_id=str(checkpoint_id),
        parent_checkpoint_id=parent,
        metadata=codec.from_jsonable(metadata),
        # A checkpoint inside its step_planned is stored without its id (its checkpoint_id).
        checkpoint={"id": str(checkpoint_id), **checkpoint}
        if isinstance(checkpoint, dict)
        else decode_typed(checkpoint),
        writes=[(str(task_id), str(w[1]), decode_write_value(w)) for task_id, w in writes],
        values={
            str(channel): [decode_value(v) for v in chain]
            for channel, chain in values.items()
            if chain and None not in chain
        },
        versions_chain=[(dict(link[0] or {}), link[1]) for link in links or []],
    )
