"""Stream identity: every event belongs to exactly one stream ``<kind>:<uuid>``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from duragraph_lab.domain.errors import InvalidStreamId, UnknownStreamKind


class StreamKind(StrEnum):
    """The aggregates whose histories are event streams."""

    RUN = "run"
    THREAD = "thread"
    ASSISTANT = "assistant"
    GRAPH = "graph"
    DATASET = "dataset"  # examples frozen from runs, versioned (evals)
    EXPERIMENT = "experiment"  # a dataset re-run against an assistant, with its scores (evals)
    # LangGraph checkpoints written outside a run (update_state, direct use of the checkpointer):
    # one stream per LangGraph thread id; each event names its thread (domain/events/langgraph.py).
    CHECKPOINTS = "checkpoints"
    CRON = "cron"  # a schedule of runs and the ticks it fired


KNOWN_KINDS: tuple[str, ...] = tuple(k.value for k in StreamKind)


@dataclass(frozen=True, slots=True)
class StreamId:
    """A parsed stream id. ``str(StreamId)`` is the canonical ``kind:uuid`` form stored in PostgreSQL."""

    kind: StreamKind
    id: uuid.UUID

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, value: str | StreamId) -> StreamId:
        """Parse ``kind:uuid``; raise :class:`UnknownStreamKind` or :class:`InvalidStreamId`."""
        if isinstance(value, StreamId):
            return value
        if not isinstance(value, str):
            raise InvalidStreamId(f"stream id must be a string, not {type(value).__name__}")
        kind, sep, raw_id = value.partition(":")
        if not sep:
            raise InvalidStreamId(f"stream id {value!r} is not of the form <kind>:<uuid>")
        try:
            parsed_kind = StreamKind(kind)
        except ValueError:
            raise UnknownStreamKind(kind, KNOWN_KINDS) from None
        try:
            parsed_id = uuid.UUID(raw_id)
        except ValueError:
            raise InvalidStreamId(f"stream id {value!r}: {raw_id!r} is not a UUID") from None
        return cls(parsed_kind, parsed_id)

    @classmethod
    def of(cls, kind: StreamKind | str, id: uuid.UUID | str) -> StreamId:
        """Build a stream id from its parts, with the same validation as :meth:`parse`."""
        return cls.parse(f"{kind}:{id}")
