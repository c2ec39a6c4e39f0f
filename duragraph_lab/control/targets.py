"""What a run request names: an assistant (by id), or a graph (meaning its default assistant),
with the graph's state keys, nodes and breakpoints as its last registration describes them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duragraph_lab.control.read_models import TargetReadModel
from duragraph_lab.domain.assistants import default_assistant_id
from duragraph_lab.domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class Target:
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    channels: dict[str, str]
    nodes: list[str]
    interrupt_before: list[str]
    interrupt_after: list[str]
    #: What executes its runs: "native", or "langgraph" (LangGraph's own runtime).
    engine: str = "native"

    def merged_config(
        self, config: Mapping[str, Any] | None, context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The assistant's config, overridden by a request's (``configurable`` and ``context``
        merged key by key)."""
        config = dict(config or {})
        merged = {**self.config, **config}
        merged["configurable"] = {
            **dict(self.config.get("configurable", {})),
            **dict(config.get("configurable", {})),
        }
        ctx = {**self.context, **dict(context or {})}
        if ctx:
            merged["context"] = ctx
        return merged


class Targets:
    def __init__(self, read_model: TargetReadModel) -> None:
        self.read_model = read_model

    async def resolve(self, assistant_or_graph: str) -> Target:
        """An assistant by id, or a graph id (meaning its default assistant)."""
        try:
            assistant_id = str(uuid.UUID(str(assistant_or_graph)))
        except ValueError:
            assistant_id = default_assistant_id(str(assistant_or_graph))
        found = await self.read_model.assistant_graph(assistant_id)
        if found is None:
            graphs = await self.read_model.graph_ids()
            raise NotFound(
                f"no assistant or graph {assistant_or_graph!r}; registered graphs: {', '.join(graphs) or '(none)'}"
            )
        topology = found.topology
        return Target(
            found.assistant_id,
            found.graph_id,
            dict(found.config or {}),
            dict(found.context or {}),
            dict(found.metadata or {}),
            dict(topology["channels"]),
            [n["id"] for n in topology["nodes"] if n.get("kind") in ("node", "subgraph")],
            list(topology.get("interrupt_before", [])),
            list(topology.get("interrupt_after", [])),
            str(topology.get("engine") or "native"),
        )
