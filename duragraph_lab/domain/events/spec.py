"""What the catalogue knows of an event type (each payload module lists its own)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    payload: builtins.type  # a TypedDict
    stream_kind: str  # the prefix of the stream id: run, thread, ..., experiment, checkpoints
    description: str
    #: Other stream kinds the type is also written to (LangGraph's checkpoints during a run).
    also_in: tuple[str, ...] = ()

    @property
    def required(self) -> frozenset[str]:
        return frozenset(getattr(self.payload, "__required_keys__", ()))

    @property
    def fields(self) -> frozenset[str]:
        return self.required | frozenset(getattr(self.payload, "__optional_keys__", ()))
