"""Assistants: a registered graph plus configuration, versioned.

Every change is an event on the assistant's stream (``assistant:<uuid>``); the ``assistants``
and ``assistant_versions`` read models are its projections, read through
:class:`AssistantReadModel`. This module is the only writer of ``assistant_created``: an
assistant created by a request and a graph's default assistant created when a worker registers
the graph (:meth:`Assistants.ensure_default`) are the same event, with the same payload.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from duragraph_lab.control import topology as topo
from duragraph_lab.control.ports import EventStore
from duragraph_lab.control.run_creation import Append
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import assistant_id_of, default_assistant_id
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import Conflict, NotFound, VersionConflict
from duragraph_lab.domain.plain import iso, plain

#: Concurrent changes an update re-decides on before it gives up.
_UPDATE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AssistantRecord:
    """An assistant as its latest version has it (a row of the ``assistants`` read model)."""

    assistant_id: str
    graph_id: str
    name: str
    description: str | None
    config: Any
    context: Any
    metadata: Any
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    def as_json(self, select: Sequence[str] | None = None) -> dict[str, Any]:
        out = {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph_id,
            "name": self.name,
            "description": self.description,
            "config": plain(self.config or {}),
            "context": plain(self.context or {}),
            "metadata": plain(self.metadata or {}),
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        return {k: v for k, v in out.items() if k in select} if select else out


@dataclass(frozen=True, slots=True)
class AssistantVersion:
    """One version of an assistant (a row of ``assistant_versions``)."""

    assistant_id: str
    version: int
    graph_id: str
    config: Any
    context: Any
    metadata: Any
    created_at: dt.datetime
    name: str
    description: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id,
            "version": self.version,
            "graph_id": self.graph_id,
            "config": plain(self.config),
            "context": plain(self.context),
            "metadata": plain(self.metadata),
            "created_at": iso(self.created_at),
            "name": self.name,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class AssistantFilter:
    """Which assistants a search or count means: all the given conditions hold."""

    #: Contained in the assistant's metadata.
    metadata: Mapping[str, Any] | None = None
    graph_id: str | None = None
    #: A case-insensitive substring of the name.
    name: str | None = None


@dataclass(frozen=True, slots=True)
class NewAssistant:
    graph_id: str
    assistant_id: str | None = None
    name: str | None = None
    description: str | None = None
    config: Mapping[str, Any] | None = None
    context: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    #: An existing assistant of that id: ``raise`` (Conflict) or ``do_nothing`` (return it).
    if_exists: Literal["raise", "do_nothing"] = "raise"


@dataclass(frozen=True, slots=True)
class AssistantChanges:
    """What a new version changes; None keeps the latest version's value (metadata is merged)."""

    graph_id: str | None = None
    name: str | None = None
    description: str | None = None
    config: Mapping[str, Any] | None = None
    context: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None


class AssistantReadModel(Protocol):
    async def assistant(self, assistant_id: str) -> AssistantRecord | None: ...

    async def version(self, assistant_id: str, version: int) -> AssistantVersion | None: ...

    async def latest_version(self, assistant_id: str) -> int:
        """The highest version recorded (0: none)."""
        ...

    async def versions(
        self, assistant_id: str, *, metadata: Mapping[str, Any] | None, limit: int, offset: int
    ) -> list[AssistantVersion]:
        """Newest first."""
        ...

    async def search(
        self, where: AssistantFilter, *, sort_by: str | None, ascending: bool, limit: int, offset: int
    ) -> tuple[list[AssistantRecord], int]:
        """A page of the matching assistants and how many match in all. ``sort_by``: a column
        of the read model (``created_at`` for any other value)."""
        ...

    async def count(self, where: AssistantFilter) -> int: ...


class GraphCatalog(Protocol):
    """The registered graphs (the ``graphs`` read model of ``graph_registered``)."""

    async def topology(self, graph_id: str) -> dict[str, Any] | None: ...

    async def graph_ids(self) -> list[str]: ...


class Assistants:
    def __init__(self, events: EventStore, read_model: AssistantReadModel, graphs: GraphCatalog) -> None:
        self.events = events
        self.read_model = read_model
        self.graphs = graphs
        #: What else goes with a deleted assistant, appended in the same transaction as its
        #: ``assistant_deleted``: ``(stream, expected version, events)`` (its crons:
        #: Crons.assistant_deleted).
        self.cascade: Callable[[str], Awaitable[list[Append]]] | None = None

    @staticmethod
    def resolve_id(assistant_id: str) -> str:
        """An assistant id, or a graph id meaning that graph's default assistant."""
        return assistant_id_of(assistant_id)

    async def _record(self, assistant_id: str) -> AssistantRecord:
        found = await self.read_model.assistant(assistant_id)
        if found is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        return found

    async def get(self, assistant_id: str) -> dict[str, Any]:
        found = await self.read_model.assistant(self.resolve_id(assistant_id))
        if found is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        return found.as_json()

    async def version(self, assistant_id: str, version: int) -> AssistantVersion | None:
        return await self.read_model.version(self.resolve_id(assistant_id), version)

    async def topology(self, graph_id: str) -> dict[str, Any]:
        """The registered graph's topology; NotFound names the graphs that are registered."""
        found = await self.graphs.topology(graph_id)
        if found is None:
            known = await self.graphs.graph_ids()
            raise NotFound(
                f"graph {graph_id!r} is not registered; registered graphs: {', '.join(known) or '(none)'}"
            )
        return found

    # -- commands ------------------------------------------------------------------------------
    async def create(self, new: NewAssistant) -> dict[str, Any]:
        await self.topology(new.graph_id)
        assistant_id = str(uuid.UUID(new.assistant_id)) if new.assistant_id else str(uuid.uuid4())
        created = ev.assistant_created(
            assistant_id,
            new.graph_id,
            name=new.name or new.graph_id,
            description=new.description,
            config=new.config or {},
            context=new.context or {},
            metadata=new.metadata or {},
        )
        try:
            await self.events.append(f"assistant:{assistant_id}", 0, [created])
        except VersionConflict:
            existing = await self.read_model.assistant(assistant_id)
            if new.if_exists == "do_nothing" and existing is not None:
                return existing.as_json()
            raise Conflict(f"assistant {assistant_id} already exists") from None
        return await self.get(assistant_id)

    async def ensure_default(self, graph_id: str, description: str | None = None) -> str:
        """Create the graph's default assistant unless it exists (or existed: a deleted default
        assistant stays deleted); its id. ``description``: the graph's (a ``langgraph.json``
        entry's), as LangGraph Platform gives it to the default assistant."""
        assistant_id, stream_id, created = self.default_created(graph_id, description)
        with contextlib.suppress(VersionConflict):  # it exists already
            await self.events.append(stream_id, 0, [created])
        return assistant_id

    @staticmethod
    def default_created(graph_id: str, description: str | None = None) -> tuple[str, str, NewEvent]:
        """The graph's default assistant: its id, its stream, and the event that creates it
        (appended at version 0, so only where the stream is new)."""
        assistant_id = default_assistant_id(graph_id)
        created = ev.assistant_created(
            assistant_id,
            graph_id,
            name=graph_id,
            description=description,
            config={},
            context={},
            metadata={"created_by": "system"},
        )
        return assistant_id, f"assistant:{assistant_id}", created

    async def update(self, assistant_id: str, changes: AssistantChanges) -> dict[str, Any]:
        """A new version with the given fields changed (the others as in the latest version)."""
        assistant_id = self.resolve_id(assistant_id)
        for _ in range(_UPDATE_ATTEMPTS):
            current = (await self._record(assistant_id)).as_json()
            if changes.graph_id is not None:
                await self.topology(changes.graph_id)
            latest = await self.read_model.latest_version(assistant_id)
            stream_version = await self.events.stream_version(f"assistant:{assistant_id}")
            data: ev.AssistantUpdated = {
                "graph_id": changes.graph_id or current["graph_id"],
                "name": changes.name or current["name"],
                "description": (
                    changes.description if changes.description is not None else current["description"]
                ),
                "config": dict(changes.config) if changes.config is not None else current["config"],
                "context": dict(changes.context) if changes.context is not None else current["context"],
                "metadata": {**current["metadata"], **(changes.metadata or {})},
                "version": latest + 1,
            }
            try:
                await self.events.append(
                    f"assistant:{assistant_id}", stream_version, [ev.assistant_updated(data)]
                )
            except VersionConflict:
                continue
            return await self.get(assistant_id)
        raise Conflict(f"assistant {assistant_id} kept changing while updating it")

    async def delete(self, assistant_id: str) -> None:
        assistant_id = self.resolve_id(assistant_id)
        await self._record(assistant_id)
        for _ in range(8):
            also = await self.cascade(assistant_id) if self.cascade is not None else []
            try:
                async with self.events.transaction() as tx:
                    await tx.append(f"assistant:{assistant_id}", None, [ev.assistant_deleted(assistant_id)])
                    for stream_id, version, events in also:
                        await tx.append(stream_id, version, events)
            except VersionConflict:
                continue  # one of its crons changed meanwhile (a tick fired): decide again
            return
        raise Conflict(f"assistant {assistant_id} kept changing while deleting it; try again")

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any]:
        assistant_id = self.resolve_id(assistant_id)
        await self._record(assistant_id)
        found = await self.read_model.version(assistant_id, version)
        if found is None:
            raise NotFound(f"assistant {assistant_id} has no version {version}")
        data: ev.AssistantUpdated = {
            "graph_id": found.graph_id,
            "name": found.name,
            "description": found.description,
            "config": found.config,
            "context": found.context,
            "metadata": found.metadata,
            "version": version,
            "set_latest": True,
        }
        await self.events.append(f"assistant:{assistant_id}", None, [ev.assistant_updated(data)])
        return await self.get(assistant_id)

    # -- queries -------------------------------------------------------------------------------
    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        assistant_id = self.resolve_id(assistant_id)
        found = await self.read_model.versions(assistant_id, metadata=metadata, limit=limit, offset=offset)
        if not found:
            await self._record(assistant_id)
        return [v.as_json() for v in found]

    async def search(
        self,
        where: AssistantFilter,
        *,
        sort_by: str | None = None,
        sort_order: str | None = None,
        limit: int = 10,
        offset: int = 0,
        select: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of assistants (newest first unless told otherwise) and how many match."""
        found, total = await self.read_model.search(
            where, sort_by=sort_by, ascending=sort_order == "asc", limit=limit, offset=offset
        )
        return [a.as_json(select) for a in found], total

    async def count(self, where: AssistantFilter) -> int:
        return await self.read_model.count(where)

    # -- the graph -----------------------------------------------------------------------------
    async def graph(
        self, assistant_id: str, xray: int | bool = False, details: bool = False
    ) -> dict[str, Any]:
        """The assistant's graph drawn as LangGraph clients expect (see :func:`topology.drawing`)."""
        assistant = await self.get(assistant_id)
        return topo.drawing(await self.topology(assistant["graph_id"]), xray, details)

    async def schemas(self, assistant_id: str) -> dict[str, Any]:
        assistant = await self.get(assistant_id)
        return topo.schemas(assistant["graph_id"], await self.topology(assistant["graph_id"]))

    async def subgraphs(
        self, assistant_id: str, namespace: str | None = None, recurse: bool = False
    ) -> dict[str, Any]:
        """Schemas of the graph's subgraphs by namespace (node names joined by ``|``)."""
        assistant = await self.get(assistant_id)
        topology = await self.topology(assistant["graph_id"])
        return topo.subgraph_schemas(assistant["graph_id"], topology, namespace, recurse)
