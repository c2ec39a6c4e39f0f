"""What the catalogue knows of an event type."""

from __future__ import annotations

import builtins
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    payload: builtins.type  # a TypedDict
    stream_kind: str  # the prefix of the stream id: run, thread, assistant, graph, dataset, experiment
    description: str
    #: Other stream kinds its events may be in (LangGraph's checkpoints: a run's stream, or the
    #: thread's checkpoint stream outside a run).
    also_in: tuple[str, ...] = ()

    @property
    def stream_kinds(self) -> tuple[str, ...]:
        return (self.stream_kind, *self.also_in)

    @property
    def required(self) -> frozenset[str]:
        return frozenset(getattr(self.payload, "__required_keys__", ()))

    @property
    def fields(self) -> frozenset[str]:
        return self.required | frozenset(getattr(self.payload, "__optional_keys__", ()))
