"""Threads over HTTP: create, read, search, edit state, history, copy, delete — request bodies
into the control plane's commands and queries, its answers into LangGraph's shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from duragraph_lab.api import models
from duragraph_lab.api.checkpoints import (
    checkpoint_ref,
    metadata_filter,
    subgraph_states,
    thread_interrupts,
    thread_state,
)
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.control.read_models import ThreadFilter, ThreadOrder, ThreadRecord
from duragraph_lab.control.run_creation import Checkpoint
from duragraph_lab.control.threads import ValuesMatch
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import RunState
from duragraph_lab.engine.commands import InvalidRunRequest

_ORDER: dict[str, ThreadOrder] = {
    "thread_id": "thread_id",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "state_updated_at": "updated_at",
}


def _values_match(values: Mapping[str, Any] | None) -> ValuesMatch | None:
    """A thread's values hold ``values`` (compared as JSON)."""
    if not values:
        return None
    wanted = {k: plain(v) for k, v in values.items()}

    def match(state: RunState) -> bool:
        current = plain(state.values)
        return all(current.get(k) == v for k, v in wanted.items())

    return match


class GraphThreads(Protocol):
    """Thread state answered by the graph itself (LangGraph graphs whose code this process has:
    :class:`duragraph_lab.langgraph.threads.LangGraphThreads`), in LangGraph Platform's shapes."""

    #: Whether edits are made by the graph (it has the graph's code), else recorded for the executor.
    edits: bool

    def serves(self, graph_id: str | None) -> bool: ...

    async def exists(self, thread_id: str, checkpoint_id: str, checkpoint_ns: str = "") -> bool: ...

    async def state(
        self,
        graph_id: str,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        subgraphs: bool = False,
    ) -> dict[str, Any]: ...

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
    ) -> list[dict[str, Any]]: ...

    async def update(
        self,
        graph_id: str,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> tuple[list[NewEvent], dict[str, Any]]: ...


class Threads:
    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        #: Set when this process has the code of LangGraph graphs (its worker serves them): their
        #: threads' state, history and edits are then the graph's own, as on LangGraph Platform.
        self.graph_threads: GraphThreads | None = None
        #: LangGraph graphs whose code this process does not have: from their stored checkpoints.
        self.stored_threads: GraphThreads | None = None

    async def _langgraph(self, thread_id: str) -> tuple[GraphThreads, str] | None:
        """The graph answering for this thread's state, and its id, when it is a LangGraph graph
        this process has the code of (the graph of the thread's latest run, else the one its
        metadata names); None: the thread's state is the fold of its run events."""
        if self.graph_threads is None and self.stored_threads is None:
            return None
        thread = await self.control.threads.get(thread_id)
        graph_id: str | None = None
        if thread.last_run_id:
            run = await self.control.run_queries.find(thread.last_run_id)  # the read model: no fold
            graph_id = run.graph_id if run is not None else None
        else:
            named = (thread.metadata or {}).get("graph_id") or (thread.metadata or {}).get("assistant_id")
            if named:
                try:
                    graph_id = (await self.control.edits.targets.resolve(str(named))).graph_id
                except NotFound:
                    graph_id = None
        if graph_id is None:
            return None
        if self.graph_threads is not None and self.graph_threads.serves(graph_id):
            return self.graph_threads, graph_id
        if self.stored_threads is not None and await self._engine(graph_id) == "langgraph":
            return self.stored_threads, graph_id
        return None

    async def _engine(self, graph_id: str) -> str | None:
        try:
            return (await self.control.edits.targets.resolve(graph_id)).engine
        except NotFound:
            return None

    async def _json(self, thread: ThreadRecord, select: Sequence[str] | None = None) -> dict[str, Any]:
        """LangGraph's ``Thread``."""
        out: dict[str, Any] = {
            "thread_id": thread.thread_id,
            "created_at": iso(thread.created_at),
            "updated_at": iso(thread.updated_at),
            "state_updated_at": iso(thread.updated_at),
            "metadata": plain(thread.metadata),
            "status": thread.status,
            "config": {},
        }
        if select is None or "values" in select or "interrupts" in select:
            latest = await self.control.threads.current_state(thread)
            out["values"] = plain(latest.values) if latest is not None else None
            out["interrupts"] = thread_interrupts(latest)
            if latest is not None and latest.error and thread.status == "error":
                out["error"] = plain(latest.error)
        return {k: v for k, v in out.items() if k in select} if select else out

    async def get(self, thread_id: str) -> dict[str, Any]:
        return await self._json(await self.control.threads.get(thread_id))

    async def create(self, body: models.ThreadCreate) -> dict[str, Any]:
        metadata = dict(body.metadata or {})
        if body.graph_id:
            metadata["graph_id"] = body.graph_id
        thread_id = await self.control.threads.create_thread(
            body.thread_id, metadata, if_exists=body.if_exists
        )
        for superstep in body.supersteps or []:
            for update in superstep.updates:
                await self.update_state(thread_id, update)
        return await self.get(thread_id)

    async def patch(self, thread_id: str, body: models.ThreadPatch) -> dict[str, Any]:
        await self.control.threads.update_thread(thread_id, body.metadata)
        return await self.get(thread_id)

    async def delete(self, thread_id: str) -> None:
        await self.control.threads.delete_thread(thread_id)

    async def copy(self, thread_id: str, body: models.ThreadCopy | None = None) -> dict[str, Any]:
        new_id = await self.control.threads.copy_thread(thread_id, body.metadata if body else None)
        return await self.get(new_id)

    async def prune(self, body: models.ThreadPrune) -> dict[str, Any]:
        return {"pruned_count": await self.control.threads.prune(body.thread_ids)}

    # -- search --------------------------------------------------------------------------------
    async def search(self, body: models.ThreadSearch) -> tuple[list[dict[str, Any]], int]:
        found, total = await self.control.threads.search(
            ThreadFilter(body.metadata, body.status, body.ids),
            order=_ORDER.get(body.sort_by or "", "created_at"),
            ascending=body.sort_order == "asc",
            limit=body.limit,
            offset=body.offset,
            values=_values_match(body.values),
        )
        return [await self._json(t, body.select) for t in found], total

    async def count(self, body: models.ThreadCount) -> int:
        return await self.control.threads.count(
            ThreadFilter(body.metadata, body.status), values=_values_match(body.values)
        )

    # -- state ---------------------------------------------------------------------------------
    async def state(
        self,
        thread_id: str,
        checkpoint_id: str | None = None,
        *,
        subgraphs: bool = False,
        checkpoint_ns: str = "",
    ) -> dict[str, Any]:
        thread_id = parse_id(thread_id, "thread")
        graph = await self._langgraph(thread_id)
        if graph is not None:
            answering, graph_id = graph
            return await answering.state(
                graph_id,
                thread_id,
                checkpoint_id=checkpoint_id,
                checkpoint_ns=checkpoint_ns or "",
                subgraphs=subgraphs,
            )
        checkpoints = self.control.checkpoints
        point = (
            await checkpoints.at(thread_id, checkpoint_id)
            if checkpoint_id
            else await checkpoints.latest(thread_id)
        )
        nested = (
            subgraph_states(thread_id, await checkpoints.subgraph_points(point))
            if subgraphs and point
            else None
        )
        spec = self.control.edits.graph_code(point.state.graph_id or "") if point else None
        reducers = spec.reducers if spec is not None else None
        return thread_state(thread_id, point, subgraphs=nested, live=checkpoint_id is None, reducers=reducers)

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
        run_id, seq = await self.control.checkpoints.locate(parse_id(thread_id, "thread"), checkpoint_id)
        return Checkpoint(run_id, seq)

    async def update_state(self, thread_id: str, body: models.StateUpdate) -> dict[str, Any]:
        thread_id = parse_id(thread_id, "thread")
        if body.command is not None:
            raise InvalidRunRequest("a Command cannot be applied by a state update: start a run with it")
        values: Any = body.values
        if isinstance(values, list):
            if len(values) != 1 or not isinstance(values[0], Mapping):
                raise InvalidRunRequest("values must be an object of state keys (or a list holding one)")
            values = values[0]
        graph = await self._langgraph(thread_id)
        if graph is not None and graph[0].edits:
            return await self._update_langgraph(*graph, thread_id, body, values)
        checkpoint = await self.resolve_checkpoint(thread_id, body.checkpoint_id or body.checkpoint)
        run_id, seq = await self.control.edits.update_state(
            thread_id, values or {}, as_node=body.as_node, checkpoint=checkpoint
        )
        if graph is not None:
            made = await self._langgraph_edit(run_id, seq)
            if made is not None:
                return {"checkpoint": made}  # a worker made it with LangGraph's update_state
        event = await self.control.history.event_at(run_id, seq)
        ref = checkpoint_ref(thread_id, event)
        return {
            "checkpoint": ref,
            "configurable": ref,
            "checkpoint_id": ref["checkpoint_id"] if ref else None,
        }

    async def _langgraph_edit(self, run_id: str, seq: int) -> dict[str, Any] | None:
        """The checkpoint LangGraph made for the edit recorded at ``seq`` (by a worker serving the
        graph), as LangGraph Platform answers an edit; None when it is not made yet."""
        for event in await self.control.history.run_events(run_id):
            data = ev.checkpoint_of(event.type, event.data)
            if event.seq > seq and data is not None and not data.get("checkpoint_ns"):
                return {
                    "thread_id": data["thread_id"],
                    "checkpoint_ns": "",
                    "checkpoint_id": data["checkpoint_id"],
                }
        return None

    async def _update_langgraph(
        self, answering: GraphThreads, graph_id: str, thread_id: str, body: models.StateUpdate, values: Any
    ) -> dict[str, Any]:
        """LangGraph Platform's ``update_state``: LangGraph makes the edit now (its checkpoint is
        the answer), recorded with the native edit in one commit (see ``StateEdits``)."""
        ref = body.checkpoint_id or body.checkpoint
        checkpoint_id = ref if isinstance(ref, str) else ref.checkpoint_id if ref is not None else None
        if not isinstance(ref, str) and ref is not None and ref.checkpoint_ns:
            raise InvalidRunRequest("checkpoints inside subgraphs (checkpoint_ns) cannot be edited here")
        if checkpoint_id and not await answering.exists(thread_id, checkpoint_id):
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")
        checkpoint = await self.resolve_checkpoint(thread_id, checkpoint_id)
        made: dict[str, Any] = {}

        async def apply() -> list[NewEvent]:
            events, config = await answering.update(
                graph_id, thread_id, values, as_node=body.as_node, checkpoint_id=checkpoint_id
            )
            made.clear()
            made.update(config)
            return events

        await self.control.edits.update_state(
            thread_id, values or {}, as_node=body.as_node, checkpoint=checkpoint, applier=apply
        )
        return {"checkpoint": made}

    async def history(self, thread_id: str, body: models.HistoryQuery) -> list[dict[str, Any]]:
        thread_id = parse_id(thread_id, "thread")
        graph = await self._langgraph(thread_id)
        if graph is not None:
            answering, graph_id = graph
            ref = body.before
            return await answering.history(
                graph_id,
                thread_id,
                limit=body.limit,
                before=ref if isinstance(ref, str) else ref.checkpoint_id if ref is not None else None,
                metadata=body.metadata,
                checkpoint_id=body.checkpoint.checkpoint_id if body.checkpoint else None,
                checkpoint_ns=body.checkpoint.checkpoint_ns if body.checkpoint else "",
            )
        if body.checkpoint is not None and body.checkpoint.checkpoint_ns:
            return []  # subgraph histories are not kept apart from their parent's
        before = None
        ref = body.before
        before_id = ref if isinstance(ref, str) else ref.checkpoint_id if ref is not None else None
        if before_id:
            before = await self.control.checkpoints.locate(thread_id, before_id)
        points = await self.control.checkpoints.history(
            thread_id,
            limit=body.limit,
            before=before,
            matches=metadata_filter(thread_id, body.metadata) if body.metadata else None,
        )
        return [thread_state(thread_id, p, live=False) for p in points]
