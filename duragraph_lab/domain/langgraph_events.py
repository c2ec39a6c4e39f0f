"""The events of LangGraph's checkpointer (issue 17): LangGraph checkpoints and task writes as
events of DuraGraph's log.

During a run they are events of the run's stream (``run:<id>``), appended under the worker's
fenced lease; written outside a run (``update_state``, direct use of the checkpointer) they go to
the thread's checkpoint stream (``checkpoints:<uuid>``, :func:`checkpoint_stream`). Every event
names its LangGraph thread (``thread_id``, a string: LangGraph's thread ids are any string).

Serialized values are LangGraph's own (the graph's serde): ``[type, base64 bytes]`` pairs, opaque
to DuraGraph, so a checkpoint reads back exactly as LangGraph wrote it. The read models
(``lg_checkpoints``, ``lg_writes``) point at these events by ``seq``; see docs/events.md.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.streams import StreamId, StreamKind

LG_CHECKPOINT = "lg_checkpoint"  # one checkpoint (put): ids, parent, metadata, serialized checkpoint
LG_WRITES = "lg_writes"  # one task's pending writes against a checkpoint (put_writes)
LG_THREAD_DELETED = "lg_thread_deleted"  # delete_thread: every checkpoint and write of the thread
LG_RUNS_DELETED = "lg_runs_deleted"  # delete_for_runs: the checkpoints (and their writes) of runs
LG_THREAD_COPIED = "lg_thread_copied"  # copy_thread: the source thread's checkpoints, now also this one's
LG_THREAD_PRUNED = "lg_thread_pruned"  # prune: keep_latest (per namespace) or delete

LANGGRAPH_EVENT_TYPES = frozenset(
    {LG_CHECKPOINT, LG_WRITES, LG_THREAD_DELETED, LG_RUNS_DELETED, LG_THREAD_COPIED, LG_THREAD_PRUNED}
)

# uuid5 namespace of checkpoint streams: a LangGraph thread id (any string) -> one stream.
_CHECKPOINT_STREAMS = uuid.UUID("5f0c1d5e-8a51-4c8e-9d0e-6b1a8f7e2c31")

#: A serialized value: (serde type, bytes), as LangGraph's ``SerializerProtocol.dumps_typed``.
Typed = tuple[str, bytes]


def checkpoint_stream(thread_id: str) -> str:
    """The stream of a LangGraph thread's checkpoints written outside any run."""
    return str(StreamId.of(StreamKind.CHECKPOINTS, uuid.uuid5(_CHECKPOINT_STREAMS, thread_id)))


def encode_typed(value: Typed) -> list[str]:
    kind, data = value
    return [kind, base64.b64encode(data).decode("ascii")]


def decode_typed(value: Sequence[str]) -> Typed:
    return str(value[0]), base64.b64decode(value[1])


def checkpoint_saved(
    *,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    parent_checkpoint_id: str | None,
    metadata: Mapping[str, Any],
    checkpoint: Typed,
    new_versions: Mapping[str, Any],
) -> NewEvent:
    """``metadata`` is plain JSON (LangGraph's checkpoint metadata: source, step, parents,
    run_id and the config's metadata), so that list filters can match it in SQL."""
    return NewEvent(
        LG_CHECKPOINT,
        {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "parent_checkpoint_id": parent_checkpoint_id,
            "metadata": dict(metadata),
            "checkpoint": encode_typed(checkpoint),
            "new_versions": {k: str(v) for k, v in new_versions.items()},
        },
    )


def writes_saved(
    *,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    task_id: str,
    task_path: str,
    writes: Sequence[tuple[int, str, Typed]],
    upsert: bool,
) -> NewEvent:
    """``writes``: (idx, channel, value). ``upsert``: the writes replace earlier ones at the same
    (task, idx) (LangGraph's special channels: errors, interrupts, resumes); otherwise an earlier
    write at the same place is kept (a task's writes saved twice are saved once)."""
    return NewEvent(
        LG_WRITES,
        {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "task_id": task_id,
            "task_path": task_path,
            "writes": [[idx, channel, *encode_typed(value)] for idx, channel, value in writes],
            "upsert": upsert,
        },
    )


def thread_deleted(thread_id: str) -> NewEvent:
    return NewEvent(LG_THREAD_DELETED, {"thread_id": thread_id})


def runs_deleted(run_ids: Sequence[str]) -> NewEvent:
    """Of every thread: ``delete_for_runs`` names runs, not threads."""
    return NewEvent(LG_RUNS_DELETED, {"thread_id": None, "run_ids": [str(r) for r in run_ids]})


def thread_copied(source_thread_id: str, target_thread_id: str) -> NewEvent:
    return NewEvent(LG_THREAD_COPIED, {"thread_id": target_thread_id, "source_thread_id": source_thread_id})


def thread_pruned(thread_id: str, strategy: str) -> NewEvent:
    if strategy not in ("keep_latest", "delete"):
        raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
    return NewEvent(LG_THREAD_PRUNED, {"thread_id": thread_id, "strategy": strategy})
