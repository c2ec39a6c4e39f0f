"""A LangGraph thread's state, history and edits answered as LangGraph Platform answers them: by
the graph itself (``aget_state``, ``aget_state_history``, ``aupdate_state``) over the event-store
checkpointer, so checkpoint ids, metadata (``source``, ``step``, ``parents``, ``run_id``, ...),
``next``, ``tasks`` and interrupts are LangGraph's own.

Used by the API process for the graphs it has the code of (its in-process worker serves them).
Each answer also carries two DuraGraph extras where the checkpoint was written during a run: the
``run_id`` of the run whose stream holds it and the ``seq`` of its event (the replay slider and
the event log locate a checkpoint by them).

An edit (``update_state``) is made by LangGraph here, at once, with a checkpointer that collects
the checkpoint instead of writing it: the caller appends it to the run's stream with the
``state_updated`` event that records the edit, in one transaction
(:meth:`duragraph_lab.control.edits.StateEdits.update_state`'s ``applier``). The executor sees that
checkpoint as LangGraph's latest and does not apply the edit again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.langgraph.executor import plain
from duragraph_lab.langgraph.source import Access, GraphSource
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.lg_checkpoints import PgLangGraphCheckpoints


class _Collected:
    """A checkpointer's :class:`~duragraph_lab.langgraph.checkpointer.RunLog` that keeps the
    events instead of appending them (the caller commits them with its own)."""

    run_id = ""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.events: list[NewEvent] = []

    async def append(self, events: Sequence[NewEvent]) -> None:
        self.events.extend(events)


class LangGraphThreads:
    """Thread state of LangGraph graphs, for the graphs ``sources`` has the code of."""

    def __init__(
        self,
        events: PostgresEventStore,
        sources: Mapping[str, GraphSource],
        store_settings: StoreSettings | None = None,
    ) -> None:
        self.events = events
        self.sources = sources
        self.store_settings = store_settings or StoreSettings()
        self.queries = PgLangGraphCheckpoints(events)

    def serves(self, graph_id: str | None) -> bool:
        return graph_id is not None and graph_id in self.sources

    def _build(
        self, graph_id: str, thread_id: str, access: Access, *, collect: _Collected | None = None
    ) -> Any:
        from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
        from duragraph_lab.langgraph.store import PostgresStore

        checkpointer = EventStoreCheckpointer(self.events, run=collect)
        store = PostgresStore(self.events, settings=self.store_settings)
        config = {"configurable": {"thread_id": thread_id}}
        return self.sources[graph_id].build(config, access=access, checkpointer=checkpointer, store=store)

    async def exists(self, thread_id: str, checkpoint_id: str, checkpoint_ns: str = "") -> bool:
        return await self.queries.get(thread_id, checkpoint_ns, checkpoint_id) is not None

    async def _known(self, thread_id: str, checkpoint_id: str | None, checkpoint_ns: str) -> None:
        if checkpoint_id and not await self.exists(thread_id, checkpoint_id, checkpoint_ns):
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")

    async def state(
        self,
        graph_id: str,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        subgraphs: bool = False,
    ) -> dict[str, Any]:
        """LangGraph Platform's ``ThreadState`` of the thread now, or at a checkpoint (a
        :class:`NotFound` for an id the thread does not have)."""
        await self._known(thread_id, checkpoint_id, checkpoint_ns)
        config = _config(thread_id, checkpoint_id, checkpoint_ns)
        async with self._build(graph_id, thread_id, "threads.read") as graph:
            snapshot = await graph.aget_state(config, subgraphs=subgraphs)
        out = thread_state(snapshot)
        await self._locate([out])
        return out

    async def history(
        self,
        graph_id: str,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> list[dict[str, Any]]:
        """The thread's checkpoints, newest first, as LangGraph's ``aget_state_history`` lists them
        (every branch; ``before``, ``metadata`` and ``checkpoint`` filter as there)."""
        config = _config(thread_id, checkpoint_id, checkpoint_ns)
        before_config = _config(thread_id, before, checkpoint_ns) if before else None
        async with self._build(graph_id, thread_id, "threads.read") as graph:
            states = [
                thread_state(s)
                async for s in graph.aget_state_history(
                    config, limit=limit, before=before_config, filter=dict(metadata) if metadata else None
                )
            ]
        await self._locate(states)
        return states

    async def update(
        self,
        graph_id: str,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> tuple[list[NewEvent], dict[str, Any]]:
        """LangGraph's ``aupdate_state`` of the thread (at ``checkpoint_id``, else its latest):
        the events of the checkpoint it made, not yet written, and the checkpoint's reference
        (``thread_id``, ``checkpoint_ns``, ``checkpoint_id``)."""
        await self._known(thread_id, checkpoint_id, "")
        collect = _Collected(thread_id)
        config = _config(thread_id, checkpoint_id, "")
        async with self._build(graph_id, thread_id, "threads.update", collect=collect) as graph:
            made = await graph.aupdate_state(config, values, as_node=as_node)
        configurable = dict(made["configurable"])
        ref = {
            "thread_id": str(configurable["thread_id"]),
            "checkpoint_ns": str(configurable.get("checkpoint_ns") or ""),
            "checkpoint_id": str(configurable["checkpoint_id"]),
        }
        return collect.events, ref

    async def _locate(self, states: Sequence[dict[str, Any]]) -> None:
        """Add DuraGraph's ``run_id`` and ``seq`` (where the checkpoint's event is) to each state."""
        wanted = [s for s in states if s.get("checkpoint")]
        if not wanted:
            return
        thread_id = str(wanted[0]["checkpoint"]["thread_id"])
        found = await self.queries.locations(
            thread_id, [str(s["checkpoint"]["checkpoint_id"]) for s in wanted]
        )
        for s in wanted:
            stream, seq = found.get(str(s["checkpoint"]["checkpoint_id"]), (None, None))
            s["run_id"] = stream.split(":", 1)[1] if stream and stream.startswith("run:") else None
            s["seq"] = seq


def _config(thread_id: str, checkpoint_id: str | None, checkpoint_ns: str) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _ref(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's reference as LangGraph Platform gives it (None without a checkpoint id)."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    ref: dict[str, Any] = {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": configurable["thread_id"],
    }
    if "checkpoint_ns" in configurable:
        ref["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        ref["checkpoint_map"] = plain(configurable["checkpoint_map"])
    return ref


def _error(error: Any) -> Any:
    """A task's error as the native thread state shows one: ``"Type: message"``."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return plain(error)


def _interrupt(intr: Any) -> dict[str, Any]:
    return {"id": str(intr.id), "value": plain(intr.value)}


def thread_state(snapshot: Any) -> dict[str, Any]:
    """A LangGraph ``StateSnapshot`` as LangGraph Platform's ``ThreadState`` JSON."""
    from langgraph.types import StateSnapshot

    tasks = []
    for t in snapshot.tasks:
        nested = t.state
        tasks.append(
            {
                "id": t.id,
                "name": t.name,
                "path": plain(list(t.path)),
                "error": _error(t.error),
                "interrupts": [_interrupt(i) for i in t.interrupts],
                "checkpoint": plain(nested["configurable"])
                if nested is not None and not isinstance(nested, StateSnapshot)
                else None,
                "state": thread_state(nested) if isinstance(nested, StateSnapshot) else None,
                "result": plain(getattr(t, "result", None)),
            }
        )
    config, parent = snapshot.config, snapshot.parent_config
    return {
        "values": plain(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": plain(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": _ref(config),
        "parent_checkpoint": _ref(parent),
        "interrupts": [_interrupt(i) for i in getattr(snapshot, "interrupts", ())],
        "checkpoint_id": (config or {}).get("configurable", {}).get("checkpoint_id") if config else None,
        "parent_checkpoint_id": (parent or {}).get("configurable", {}).get("checkpoint_id")
        if parent
        else None,
    }
