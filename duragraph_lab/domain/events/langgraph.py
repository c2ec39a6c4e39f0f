"""The payloads of LangGraph's checkpointer (issue 17): LangGraph checkpoints and task writes as
events of DuraGraph's log, and the one factory that makes each.

During a run they are events of the run's stream (``run:<id>``), appended under the worker's
fenced lease; written outside a run (``update_state``, direct use of the checkpointer) they go to
the thread's checkpoint stream (``checkpoints:<uuid>``, :func:`checkpoint_stream`). Every event
names its LangGraph thread (``thread_id``: LangGraph's thread ids are any string).

Serialized values are LangGraph's own (the graph's serde): ``[type, base64 bytes]`` pairs, opaque
to DuraGraph, so a checkpoint reads back exactly as LangGraph wrote it. The read models
(``lg_checkpoints``, ``lg_writes``) point at these events by ``seq``; see docs/events.md.

No ``from __future__ import annotations`` here (see run.py).
"""

import base64
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

from duragraph_lab.domain.codec import same_json
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.events import names
from duragraph_lab.domain.events.spec import EventSpec
from duragraph_lab.domain.streams import StreamId, StreamKind

#: The LangGraph event types: the run's projection hands them to the checkpoints projection.
LANGGRAPH_EVENT_TYPES = frozenset(
    {
        names.LG_CHECKPOINT,
        names.LG_WRITES,
        names.LG_THREAD_DELETED,
        names.LG_RUNS_DELETED,
        names.LG_THREAD_COPIED,
        names.LG_THREAD_PRUNED,
    }
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


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    """A task's write stored as JSON itself, not serialized: a value JSON gives back equal and
    of the same types (dicts with string keys, lists, strings, finite floats, ints, bools,
    None), written with LangGraph's default serializer, whose bytes would read back the same.
    Readable in the log, and inside a node_completed a value its update already holds is not
    stored again (about as many bytes as base64 of msgpack otherwise: JSONB's keys cost too)."""

    value: Any


#: The type of a write stored as :class:`Plain` (``[idx, channel, PLAIN, value]``): no serde's.
PLAIN = "plain"

#: A stored write's value: serialized, or plain JSON.
WriteValue = Typed | Plain

#: The type of a write inside a node_completed whose value is that event's ``update[channel]``.
FROM_UPDATE = "update"


def encode_write(idx: int, channel: str, value: WriteValue) -> list[Any]:
    if isinstance(value, Plain):
        return [idx, channel, PLAIN, value.value]
    return [idx, channel, *encode_typed(value)]


def decode_write_value(entry: Sequence[Any]) -> WriteValue:
    """The value of a stored write ``[idx, channel, type, base64 | value]``."""
    if entry[2] == PLAIN:
        return Plain(entry[3])
    return decode_typed(entry[2:4])


class LgListAppend(TypedDict):
    """A list channel's value as an earlier version of it plus items appended (version 2 of the
    ``blobs`` values): ``base``, a version of the same channel in the same thread and namespace,
    whose value is exactly the first items; ``append``, the items after them, each
    ``[serde type, base64]``."""

    base: str
    append: list[list[str]]


@dataclasses.dataclass(frozen=True, slots=True)
class ListAppend:
    """A list value stored as the value of ``base`` (a version of the same channel) followed by
    ``items`` (each serialized on its own)."""

    base: str
    items: tuple[Typed, ...]


#: A stored channel value: serialized whole, or as an append to an earlier version.
StoredValue = Typed | ListAppend


def encode_value(value: StoredValue) -> list[str] | LgListAppend:
    if isinstance(value, ListAppend):
        return LgListAppend(base=value.base, append=[encode_typed(item) for item in value.items])
    return encode_typed(value)


def decode_value(value: Any) -> StoredValue:
    """A ``blobs`` value as stored, either form (older events have only the first)."""
    if isinstance(value, Mapping):
        return ListAppend(str(value["base"]), tuple(decode_typed(item) for item in value["append"]))
    return decode_typed(value)


class LgCheckpoint(TypedDict):
    thread_id: str
    # Both absent inside a step_planned (since 2026-12-05): "" and the step_planned's own
    # checkpoint_id (checkpoint_of puts them back).
    checkpoint_ns: NotRequired[str]
    checkpoint_id: NotRequired[str]
    parent_checkpoint_id: str | None
    metadata: dict[str, Any]  # plain JSON: LangGraph's checkpoint metadata
    # The checkpoint without its channel values: [serde type, base64], or (since 2026-12-04) the
    # checkpoint itself when it is plain JSON (it holds channel_versions then, not repeated;
    # inside a step_planned, since 2026-12-05, not its "id": the checkpoint_id).
    checkpoint: list[str] | dict[str, Any]
    # Inside a step_planned (since 2026-12-05), true when the metadata leaves out its run_id,
    # graph_id and assistant_id: those of the run's run_created (the stream's first event).
    metadata_of_run: NotRequired[bool]
    # The versions of the channels that changed; absent (since 2026-12-04) when they are the
    # checkpoint's channel_versions of the channels in blobs.
    new_versions: NotRequired[dict[str, str]]
    # The checkpoint's channel -> version; the values are found by version (lg_blobs): absent in
    # the first events of this type, whose checkpoint held every value itself.
    channel_versions: NotRequired[dict[str, str]]
    # channel -> the new version's value: [serde type, base64], or (a list that extends an
    # earlier version's) LgListAppend.
    blobs: NotRequired[dict[str, list[str] | LgListAppend]]
    # In a run's stream (since the version deltas of 2026-12-04), true: the checkpoint's
    # channel_versions and versions_seen hold only the entries that changed since its parent's
    # (an earlier checkpoint of the same stream, whole or itself a delta of its parent's):
    # langgraph/version_deltas.py.
    versions_delta: NotRequired[bool]


class LgWrites(TypedDict):
    thread_id: str
    # Inside a node_completed (since 2026-12-05) absent when "" / the node_completed's task /
    # false (writes_of puts them back).
    checkpoint_ns: NotRequired[str]
    checkpoint_id: str
    task_id: NotRequired[str]
    task_path: str
    # [idx, channel, serde type, base64], or (since 2026-12-05) [idx, channel, "plain", value],
    # or inside a node_completed [idx, channel, "update"]: the value is the node_completed's
    # update[channel] (the same JSON).
    writes: list[list[Any]]
    upsert: NotRequired[bool]


class LgThreadDeleted(TypedDict):
    thread_id: str


class LgRunsDeleted(TypedDict):
    thread_id: None  # of every thread: delete_for_runs names runs only
    run_ids: list[str]


class LgThreadCopied(TypedDict):
    thread_id: str  # the target
    source_thread_id: str


class LgThreadPruned(TypedDict):
    thread_id: str
    strategy: Literal["keep_latest", "delete"]


def lg_checkpoint(
    *,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    parent_checkpoint_id: str | None,
    metadata: Mapping[str, Any],
    checkpoint: Typed | Mapping[str, Any],
    new_versions: Mapping[str, Any] | None,
    channel_versions: Mapping[str, Any] | None = None,
    blobs: Mapping[str, StoredValue] | None = None,
    versions_delta: bool = False,
) -> NewEvent:
    """``metadata`` is plain JSON (LangGraph's checkpoint metadata: source, step, parents,
    run_id and the config's metadata), so that list filters can match it in SQL. ``checkpoint``
    is without its channel values, serialized or as plain JSON (a mapping: then it holds the
    channel versions, and ``channel_versions`` is not stored again); ``blobs`` are the values of
    ``new_versions``' channels (None: the checkpoint's versions of the channels in ``blobs``) (a list may be a :class:`ListAppend` to an earlier version of its channel), and
    ``channel_versions`` says which version of each channel the checkpoint has. With
    ``versions_delta``, the plain JSON checkpoint's versions are only those that changed since
    its parent's (see :mod:`duragraph_lab.langgraph.version_deltas`)."""
    data = LgCheckpoint(
        thread_id=thread_id,
        checkpoint_ns=checkpoint_ns,
        checkpoint_id=checkpoint_id,
        parent_checkpoint_id=parent_checkpoint_id,
        metadata=dict(metadata),
        checkpoint=dict(checkpoint) if isinstance(checkpoint, Mapping) else encode_typed(checkpoint),
    )
    if new_versions is not None:
        data["new_versions"] = {k: str(v) for k, v in new_versions.items()}
    if channel_versions is not None and not isinstance(checkpoint, Mapping):
        data["channel_versions"] = {k: str(v) for k, v in channel_versions.items()}
    if blobs is not None:
        data["blobs"] = {k: encode_value(v) for k, v in blobs.items()}
    if versions_delta:
        data["versions_delta"] = True
    return NewEvent(names.LG_CHECKPOINT, data)


def lg_writes(
    *,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    task_id: str,
    task_path: str,
    writes: Sequence[tuple[int, str, WriteValue]],
    upsert: bool,
) -> NewEvent:
    """``writes``: (idx, channel, value: serialized or :class:`Plain`). ``upsert``: the writes replace earlier ones at the same
    (task, idx) (LangGraph's special channels: errors, interrupts, resumes); otherwise an earlier
    write at the same place is kept (a task's writes saved twice are saved once)."""
    data = LgWrites(
        thread_id=thread_id,
        checkpoint_ns=checkpoint_ns,
        checkpoint_id=checkpoint_id,
        task_id=task_id,
        task_path=task_path,
        writes=[encode_write(idx, channel, value) for idx, channel, value in writes],
        upsert=upsert,
    )
    return NewEvent(names.LG_WRITES, data)


def lg_thread_deleted(thread_id: str) -> NewEvent:
    return NewEvent(names.LG_THREAD_DELETED, LgThreadDeleted(thread_id=thread_id))


def lg_runs_deleted(run_ids: Sequence[str]) -> NewEvent:
    return NewEvent(names.LG_RUNS_DELETED, LgRunsDeleted(thread_id=None, run_ids=[str(r) for r in run_ids]))


def lg_thread_copied(source_thread_id: str, target_thread_id: str) -> NewEvent:
    return NewEvent(
        names.LG_THREAD_COPIED, LgThreadCopied(thread_id=target_thread_id, source_thread_id=source_thread_id)
    )


def lg_thread_pruned(thread_id: str, strategy: str) -> NewEvent:
    if strategy == "keep_latest":
        return NewEvent(names.LG_THREAD_PRUNED, LgThreadPruned(thread_id=thread_id, strategy="keep_latest"))
    if strategy == "delete":
        return NewEvent(names.LG_THREAD_PRUNED, LgThreadPruned(thread_id=thread_id, strategy="delete"))
    raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")


# -- a run's own LangGraph records inside the run events that record them -------------------------
#
# During a run, a root checkpoint is committed with the ``step_planned`` of the step it leads to,
# and a root task's writes with its ``node_completed`` (executor.py's commits). Since 2026-12-04
# (issue 17: one event per record, not two) such a pair is stored as ONE event: the run event,
# with the LangGraph record's payload under ``STEP_CHECKPOINT`` / ``NODE_WRITES``. A checkpoint or
# writes that no run event records (the input's checkpoint, the last, a subgraph's, an edit's,
# a task's interrupt or error, any outside a run) stays an event of its own type. Readers take
# either form through checkpoint_of / writes_of (SQL: ``coalesce(data->'langgraph_checkpoint', data)``).

#: The key of a ``step_planned`` holding the LangGraph checkpoint the step starts from (LgCheckpoint).
STEP_CHECKPOINT = "langgraph_checkpoint"
#: The key of a ``node_completed`` holding the LangGraph task's writes (LgWrites).
NODE_WRITES = "langgraph_writes"


def checkpoint_of(event_type: str, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The LangGraph checkpoint an event records (an ``lg_checkpoint``, or a ``step_planned``
    holding one), else None: whole, what the holder says of it put back."""
    if event_type == names.LG_CHECKPOINT:
        return data
    if event_type == names.STEP_PLANNED:
        inner = data.get(STEP_CHECKPOINT)
        if not isinstance(inner, Mapping):
            return None
        checkpoint_id = inner.get("checkpoint_id", data.get("checkpoint_id"))
        # With "metadata_of_run", its metadata's RUN_METADATA_KEYS are the run_created's.
        out = {"checkpoint_ns": "", "checkpoint_id": checkpoint_id, **inner}
        checkpoint = inner.get("checkpoint")
        if isinstance(checkpoint, Mapping) and "id" not in checkpoint:
            out["checkpoint"] = {"id": checkpoint_id, **checkpoint}
        return out
    return None


def writes_of(event_type: str, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The LangGraph task writes an event records (an ``lg_writes``, or a ``node_completed``
    holding them), else None: whole, what the holder says of them put back."""
    if event_type == names.LG_WRITES:
        return data
    if event_type == names.NODE_COMPLETED:
        inner = data.get(NODE_WRITES)
        if not isinstance(inner, Mapping):
            return None
        update = data.get("update") or {}
        writes = [
            [w[0], w[1], PLAIN, update.get(w[1])] if len(w) == 3 and w[2] == FROM_UPDATE else w
            for w in inner.get("writes") or []
        ]
        return {"checkpoint_ns": "", "task_id": data.get("task"), "upsert": False, **inner, "writes": writes}
    return None


def _inside_step(record: Mapping[str, Any], of_run: Mapping[str, Any] | None) -> dict[str, Any]:
    """A root checkpoint's payload as a step_planned of the same checkpoint id holds it: without
    what that event says already (checkpoint_of puts it back), nor, when its metadata has them
    as the run's ``run_created`` has them, its ``run_id``, ``graph_id`` and ``assistant_id``
    (then ``metadata_of_run``: the SQL readers put them back)."""
    out = {k: v for k, v in record.items() if k != "checkpoint_id" and not (k == "checkpoint_ns" and v == "")}
    checkpoint = record.get("checkpoint")
    if isinstance(checkpoint, Mapping) and checkpoint.get("id") == record.get("checkpoint_id"):
        out["checkpoint"] = {k: v for k, v in checkpoint.items() if k != "id"}
    metadata = record.get("metadata")
    if (
        of_run
        and isinstance(metadata, Mapping)
        and all(k in metadata and same_json(metadata[k], v) for k, v in of_run.items())
    ):
        out["metadata"] = {k: v for k, v in metadata.items() if k not in of_run}
        out["metadata_of_run"] = True
    return out


#: The keys of a run's checkpoint metadata that its ``run_created`` has (as top-level fields).
RUN_METADATA_KEYS = ("run_id", "graph_id", "assistant_id")


def _inside_node(record: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A root task's writes as its node_completed holds them: without what that event says
    already (its task, a write's value that is exactly its update's: writes_of puts them back)."""
    out = {
        k: v
        for k, v in record.items()
        if k != "task_id" and not (k == "checkpoint_ns" and v == "") and not (k == "upsert" and v is False)
    }
    out["writes"] = [
        [w[0], w[1], FROM_UPDATE]
        if len(w) == 4 and w[2] == PLAIN and w[1] in update and same_json(update[w[1]], w[3])
        else w
        for w in record.get("writes") or []
    ]
    return out


def records_langgraph(event_type: str, data: Mapping[str, Any]) -> bool:
    """Whether an event is (or holds) one of LangGraph's checkpointer records."""
    return (
        event_type in LANGGRAPH_EVENT_TYPES
        or checkpoint_of(event_type, data) is not None
        or writes_of(event_type, data) is not None
    )


def merge_langgraph_records(
    events: Sequence[NewEvent], run_metadata: Mapping[str, Any] | None = None
) -> list[NewEvent]:
    """One commit's events with each root ``lg_checkpoint`` moved into the root ``step_planned``
    of the same commit that names its checkpoint id, and each root ``lg_writes`` into the root
    ``node_completed`` of the same commit for its task: one event where there were two, in the
    run event's place (the LangGraph record came first; nothing reads between the two). A
    record with no such partner, or with two, is left as it is. ``run_metadata``: the
    :data:`RUN_METADATA_KEYS` of the run whose stream the events go to, as its ``run_created``
    has them."""
    checkpoints: dict[str, list[NewEvent]] = {}
    writes: dict[str, list[NewEvent]] = {}
    for e in events:
        if e.type == names.LG_CHECKPOINT and not e.data.get("checkpoint_ns"):
            checkpoints.setdefault(str(e.data.get("checkpoint_id")), []).append(e)
        elif e.type == names.LG_WRITES and not e.data.get("checkpoint_ns"):
            writes.setdefault(str(e.data.get("task_id")), []).append(e)
    if not checkpoints and not writes:
        return list(events)
    moved: dict[int, NewEvent] = {}  # id(record) -> the run event now holding it
    out: list[NewEvent] = []
    for e in events:
        record, key = None, ""
        if e.type == names.STEP_PLANNED and not e.data.get("ns"):
            found = checkpoints.get(str(e.data.get("checkpoint_id")), [])
            record, key = (found[0], STEP_CHECKPOINT) if len(found) == 1 else (None, "")
        elif e.type == names.NODE_COMPLETED and not e.data.get("ns"):
            found = writes.get(str(e.data.get("task")), [])
            record, key = (found[0], NODE_WRITES) if len(found) == 1 else (None, "")
        if record is None or id(record) in moved:
            out.append(e)
            continue
        inner = (
            _inside_step(record.data, run_metadata)
            if key == STEP_CHECKPOINT
            else _inside_node(record.data, e.data.get("update") or {})
        )
        holder = NewEvent(e.type, {**e.data, key: inner}, e.meta, e.event_id)
        moved[id(record)] = holder
        out.append(holder)
    return [e for e in out if id(e) not in moved]


#: The catalogue entries of these types (catalogue.py gathers them), in the order of docs/events.md.
LANGGRAPH_EVENT_SPECS = (
    EventSpec(names.LG_CHECKPOINT, LgCheckpoint, "checkpoints", "a LangGraph checkpoint", ("run",)),
    EventSpec(names.LG_WRITES, LgWrites, "checkpoints", "a LangGraph task's pending writes", ("run",)),
    EventSpec(names.LG_THREAD_DELETED, LgThreadDeleted, "checkpoints", "a thread's checkpoints deleted"),
    EventSpec(names.LG_RUNS_DELETED, LgRunsDeleted, "checkpoints", "the checkpoints of runs deleted"),
    EventSpec(names.LG_THREAD_COPIED, LgThreadCopied, "checkpoints", "a thread's checkpoints copied"),
    EventSpec(names.LG_THREAD_PRUNED, LgThreadPruned, "checkpoints", "a thread's checkpoints pruned"),
)
