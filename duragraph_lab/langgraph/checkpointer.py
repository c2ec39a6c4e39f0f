"""LangGraph's checkpointer over DuraGraph's event store: no checkpoint tables, every checkpoint
and every task's writes is an event (:mod:`duragraph_lab.domain.events.langgraph`).

Bound to a run (:class:`RunLog`, given by the executor), the checkpoints of the run's thread are
appended to the run's stream through the run's writer, i.e. under the worker's fenced lease, in
the transaction of the outbox and the read models: a worker that lost its lease cannot save a
checkpoint. Unbound (``update_state`` outside a run, direct use), they go to the thread's
checkpoint stream. Reads come from the ``lg_checkpoints``/``lg_writes`` read models, which point at
those events (:mod:`duragraph_lab.store.queries.lg_checkpoints`).

Async first, like :class:`~duragraph_lab.langgraph.store.PostgresStore`: the async methods run on
the pool's event loop; the sync ones (LangGraph's sync ``invoke``/``stream``, run in another
thread) hand the call to that loop and wait, and raise at once when called on it.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.events.langgraph import Typed
from duragraph_lab.langgraph.list_values import ListValues, RootPuts, resolve
from duragraph_lab.langgraph.version_deltas import VersionDeltas, rebuild
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.lg_checkpoints import PgLangGraphCheckpoints, StoredCheckpoint

__all__ = ["EventStoreCheckpointer", "RunLog"]

T = TypeVar("T")

#: The serde type of a channel that has a new version but no value (LangGraph's savers' marker).
_EMPTY = "empty"

#: Digits of a version's counter and of its random fraction (see get_next_version).
_VERSION_WIDTH, _VERSION_RANDOM = 10, 12


class RunLog(Protocol):
    """Where a run's checkpoints go: the run's stream, under the lease of the worker running it.

    Every method appends fenced by the lease (``LeaseLost`` when it is gone). The run's own
    checkpoints and task writes (``checkpoint_ns`` "") may be committed together with the run
    events that record them (one commit instead of two): a checkpoint no later than the run's
    next commit and before any read of this checkpointer (which calls :meth:`flush` first), a
    task's writes before the call returns."""

    run_id: str
    thread_id: str

    async def append(self, events: Sequence[NewEvent]) -> None:
        """Append to the run's stream now."""
        ...

    async def put_checkpoint(self, event: NewEvent, checkpoint_ns: str) -> None:
        """A checkpoint of the run's thread (an ``lg_checkpoint`` event)."""
        ...

    async def put_writes(
        self, event: NewEvent, checkpoint_ns: str, task_id: str, writes: Sequence[tuple[str, Any]]
    ) -> None:
        """A task's writes (an ``lg_writes`` event; ``writes`` as LangGraph gave them), committed
        when this returns."""
        ...

    async def flush(self) -> None:
        """Commit a checkpoint still waiting for the run's next commit."""
        ...


class EventStoreCheckpointer(BaseCheckpointSaver[str]):
    """A LangGraph ``BaseCheckpointSaver`` whose checkpoints are events of DuraGraph's log.

    ``run``: the run whose thread's checkpoints go to its stream (the executor binds one per run
    with :meth:`for_run`); without it every checkpoint goes to its thread's checkpoint stream.
    ``serde``: LangGraph's serializer (default: LangGraph's)."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        serde: SerializerProtocol | None = None,
        run: RunLog | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.store = store
        self.queries = PgLangGraphCheckpoints(store)
        self.run = run
        # A run's checkpointer is its thread's only writer while the run holds its lease: it may
        # store a list as an append to the version it stored before (list_values.py).
        self.lists = ListValues(self.serde) if run is not None else None
        # ... and a checkpoint's versions as the changes since the parent it stored just before
        # (version_deltas.py).
        self.versions = VersionDeltas() if run is not None else None
        #: The run's last root checkpoints and the lists they stored as appends (for the run's
        #: event writer: list_values.RootPuts).
        self.root_puts = RootPuts() if run is not None else None
        # Writes as plain JSON where they can be (ev.Plain): only with LangGraph's own serializer.
        self._plain_writes = type(self.serde) is JsonPlusSerializer
        #: Set by the executor when the run's thread was made for the run and the run has saved
        #: nothing yet: the thread then holds no checkpoint but those saved here, so reading one
        #: under a namespace nothing was saved in asks nothing of the database (a new thread's
        #: first read at the run's start, a subgraph's in each task that runs it).
        self.thread_is_empty = False
        self._saved_ns: set[str] = set()
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # set by the first async call

    def for_run(self, run: RunLog) -> EventStoreCheckpointer:
        """The same checkpointer, writing the run's thread's checkpoints to the run's stream."""
        bound = EventStoreCheckpointer(self.store, serde=self.serde, run=run)
        bound._loop = self._loop
        return bound

    # -- writing -------------------------------------------------------------------------------
    def _bound(self, thread_id: str) -> RunLog | None:
        """The run's log when ``thread_id`` is its thread's (else: the thread's checkpoint stream)."""
        self._remember_loop()
        return self.run if self.run is not None and thread_id == self.run.thread_id else None

    async def _append(self, thread_id: str, events: list[NewEvent]) -> None:
        run = self._bound(thread_id)
        if run is not None:
            await run.append(events)
        else:
            await self.store.append(ev.checkpoint_stream(thread_id), None, events)

    async def _flush(self) -> None:
        """Reads see every checkpoint this checkpointer saved (see :class:`RunLog`)."""
        self._remember_loop()
        if self.run is not None:
            await self.run.flush()

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns") or "")
        # Deltas: the checkpoint without its values, and the values of the channels that got a
        # new version (a channel without a value at its new version is stored as "empty"; a list
        # that extends the version this run stored before, as an append to it).
        values = checkpoint["channel_values"]
        lists = self.lists if self._bound(thread_id) is not None else None
        blobs: dict[str, ev.StoredValue] = {}
        for channel, version in new_versions.items():
            if channel not in values:
                blobs[channel] = (_EMPTY, b"")
                if lists is not None:
                    lists.discard(thread_id, checkpoint_ns, channel)
            elif lists is not None:
                blobs[channel] = lists.store(thread_id, checkpoint_ns, channel, str(version), values[channel])
            else:
                blobs[channel] = self.serde.dumps_typed(values[channel])
        parent_id = configurable.get("checkpoint_id")
        bare = {**checkpoint, "channel_values": {}}
        stored: dict[str, Any] | Typed
        delta = False
        if self.versions is not None and self._bound(thread_id) is not None:
            # Only the versions that changed since the parent, when this run stored the parent.
            # A chain of changes only goes through checkpoints stored as JSON, so only the
            # changes need checking (the rest was when stored): a 100-node graph's checkpoint
            # carries ~200 versions, a step changes a few.
            candidate, delta = self.versions.store(thread_id, checkpoint_ns, parent_id, bare)
            if _json_exact(candidate):
                stored = candidate
            else:
                self.versions.discard(thread_id, checkpoint_ns)  # no change can follow from it
                stored, delta = self.serde.dumps_typed(bare), False
        else:
            stored = _plain_or_serialized(self.serde, bare)
        event = ev.lg_checkpoint(
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            checkpoint_id=checkpoint["id"],
            parent_checkpoint_id=parent_id,
            metadata=dict(get_serializable_checkpoint_metadata(config, metadata)),
            checkpoint=stored,
            versions_delta=delta,
            # Not repeated when they are the checkpoint's versions of the channels stored.
            new_versions=None
            if all(checkpoint["channel_versions"].get(ch) == v for ch, v in new_versions.items())
            else new_versions,
            channel_versions=checkpoint["channel_versions"],
            blobs=blobs,
        )
        run = self._bound(thread_id)
        if run is not None and lists is not None and self.root_puts is not None and not checkpoint_ns:
            self.root_puts.record(
                str(checkpoint["id"]),
                checkpoint["channel_versions"],
                {
                    ch: (b.base, len(values[ch]) - len(b.items))
                    for ch, b in blobs.items()
                    if isinstance(b, ev.ListAppend)
                },
            )
        if run is not None:
            self._saved_ns.add(checkpoint_ns)
            await run.put_checkpoint(event, checkpoint_ns)
        else:
            await self._append(thread_id, [event])
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        # LangGraph's rule: special channels (error, interrupt, resume, ...) have fixed negative
        # indexes and replace what was there; ordinary writes saved again are kept as first saved.
        upsert = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        checkpoint_ns = str(configurable.get("checkpoint_ns") or "")
        event = ev.lg_writes(
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            checkpoint_id=str(configurable["checkpoint_id"]),
            task_id=task_id,
            task_path=task_path,
            writes=[
                (WRITES_IDX_MAP.get(channel, idx), channel, self._write_value(value))
                for idx, (channel, value) in enumerate(writes)
            ],
            upsert=upsert,
        )
        run = self._bound(thread_id)
        if run is not None:
            await run.put_writes(event, checkpoint_ns, task_id, writes)
        else:
            await self._append(thread_id, [event])

    def _write_value(self, value: Any) -> ev.WriteValue:
        """A write as plain JSON when LangGraph's own serializer would store it (another, an
        encrypting one say, must see every value) and JSON gives it back exactly; else serialized."""
        if self._plain_writes and _json_exact(value):
            return ev.Plain(value)
        return self.serde.dumps_typed(value)

    async def adelete_thread(self, thread_id: str) -> None:
        if self.lists is not None:
            self.lists.forget(str(thread_id))
        if self.versions is not None:
            self.versions.forget(str(thread_id))
        await self._append(str(thread_id), [ev.lg_thread_deleted(str(thread_id))])

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        self._remember_loop()
        # Runs, not threads: an event of a stream of its own, projected over every thread.
        stream = ev.checkpoint_stream(f"runs:{uuid.uuid4()}")
        await self.store.append(stream, None, [ev.lg_runs_deleted([str(r) for r in run_ids])])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._flush()  # the copy is made from the source's read model
        await self._append(
            str(target_thread_id), [ev.lg_thread_copied(str(source_thread_id), str(target_thread_id))]
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        events_by_thread = [(str(t), ev.lg_thread_pruned(str(t), strategy)) for t in thread_ids]
        for thread_id, event in events_by_thread:
            if self.lists is not None:
                self.lists.forget(thread_id)
            if self.versions is not None:
                self.versions.forget(thread_id)
            await self._append(thread_id, [event])

    # -- reading -------------------------------------------------------------------------------
    async def latest_checkpoint_id(self, thread_id: str, checkpoint_ns: str = "") -> str | None:
        """The id of the checkpoint :meth:`aget_tuple` would read as the thread's latest, without
        reading the checkpoint (its values may be a long conversation)."""
        await self._flush()
        return await self.queries.latest_id(thread_id, checkpoint_ns)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        configurable = config["configurable"]
        thread_id, checkpoint_ns = (
            str(configurable["thread_id"]),
            str(configurable.get("checkpoint_ns") or ""),
        )
        if (
            self.thread_is_empty
            and checkpoint_ns not in self._saved_ns
            and self._bound(thread_id) is not None
        ):
            return None
        await self._flush()
        stored = await self.queries.get(thread_id, checkpoint_ns, configurable.get("checkpoint_id"))
        return self._tuple(stored) if stored is not None else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await self._flush()
        configurable = (config or {}).get("configurable") or {}
        thread_id = configurable.get("thread_id")
        checkpoint_ns = configurable.get("checkpoint_ns")
        found = await self.queries.list_checkpoints(
            thread_id=str(thread_id) if thread_id is not None else None,
            checkpoint_ns=str(checkpoint_ns) if checkpoint_ns is not None else None,
            checkpoint_id=configurable.get("checkpoint_id"),
            before=((before or {}).get("configurable") or {}).get("checkpoint_id"),
            metadata_filter=filter,
            limit=limit,
        )
        for stored in found:
            yield self._tuple(stored)

    def _tuple(self, stored: StoredCheckpoint) -> CheckpointTuple:
        base = {"thread_id": stored.thread_id, "checkpoint_ns": stored.checkpoint_ns}
        checkpoint: Checkpoint = (
            rebuild(stored.checkpoint, stored.versions_chain)  # type: ignore[assignment]
            if isinstance(stored.checkpoint, dict)
            else self.serde.loads_typed(stored.checkpoint)
        )
        if stored.values:
            # The delta format: every value is found by its version (an "empty" one has none).
            values = {
                ch: resolve(self.serde, chain)
                for ch, chain in stored.values.items()
                if not (len(chain) == 1 and isinstance(chain[0], tuple) and chain[0][0] == _EMPTY)
            }
            checkpoint["channel_values"] = {**checkpoint.get("channel_values", {}), **values}
            # A run goes on from what it read: its next version of a list may append to it.
            if self.lists is not None and self._bound(stored.thread_id) is not None:
                versions = checkpoint["channel_versions"]
                for ch, value in values.items():
                    if ch in versions:
                        self.lists.seen(
                            stored.thread_id,
                            stored.checkpoint_ns,
                            ch,
                            str(versions[ch]),
                            stored.values[ch],
                            value,
                        )
        return CheckpointTuple(
            config={"configurable": {**base, "checkpoint_id": stored.checkpoint_id}},
            checkpoint=checkpoint,
            metadata=stored.metadata,  # type: ignore[arg-type]
            parent_config=(
                {"configurable": {**base, "checkpoint_id": stored.parent_checkpoint_id}}
                if stored.parent_checkpoint_id
                else None
            ),
            pending_writes=[
                (
                    task_id,
                    channel,
                    value.value if isinstance(value, ev.Plain) else self.serde.loads_typed(value),
                )
                for task_id, channel, value in stored.writes
            ],
        )

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Versions are strings that sort as they increase: a zero-padded counter, then a random
        fraction (as LangGraph's own savers, so that the versions two branches of a thread give
        a channel differ), 23 characters instead of their 51 (issue 17's storage: a checkpoint
        names each of its channels' versions, twice). A thread whose versions are wider (written
        before) keeps their width: LangGraph compares versions as strings."""
        # str(): a thread checkpointed by a saver with integer versions continues from them.
        counter = "" if current is None else str(current).split(".")[0]
        number = int(counter) if counter else 0
        width = max(_VERSION_WIDTH, len(counter))
        return f"{number + 1:0{width}}.{random.randrange(10**_VERSION_RANDOM):0{_VERSION_RANDOM}}"

    # -- the sync twins (LangGraph's sync invoke/stream, in a thread other than the loop's) -----
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._sync(lambda: self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        return iter(self._sync(collect))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._sync(lambda: self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._sync(lambda: self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._sync(lambda: self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(lambda: self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(lambda: self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._sync(lambda: self.aprune(thread_ids, strategy=strategy))

    def _remember_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()

    def _sync(self, call: Callable[[], Awaitable[T]]) -> T:
        loop = self._loop
        if loop is None:
            raise RuntimeError(
                "EventStoreCheckpointer has no event loop yet: build it on the loop that owns its "
                "connection pool, or make an async call first"
            )
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise asyncio.InvalidStateError(
                "a synchronous checkpointer call on the checkpointer's own event loop would block the "
                "loop it waits for: use the async methods (graph.ainvoke/astream) in async code"
            )
        if loop.is_closed():
            raise RuntimeError("EventStoreCheckpointer's event loop is closed")

        async def run() -> T:
            return await call()

        return asyncio.run_coroutine_threadsafe(run(), loop).result()


def _plain_or_serialized(serde: SerializerProtocol, checkpoint: dict[str, Any]) -> dict[str, Any] | Typed:
    """The checkpoint as plain JSON when JSON gives it back exactly (ours always: its versions
    are strings), else serialized: JSON is a third of the size of the serde's bytes in base64."""
    return checkpoint if _json_exact(checkpoint) else serde.dumps_typed(checkpoint)


def _json_exact(value: Any) -> bool:
    """Whether ``value`` comes back from JSONB as an equal value of the same types."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _json_exact(k) and _json_exact(v) for k, v in value.items())
    if kind is list:
        return all(_json_exact(v) for v in value)
    if kind is str:
        return "\x00" not in value  # JSONB refuses NUL in text
    if kind is float:
        # JSONB's numbers have no infinity and no negative zero (-0.0 would come back as 0).
        return math.isfinite(value) and not (value == 0.0 and math.copysign(1.0, value) < 0)
    return kind in (int, bool) or value is None
