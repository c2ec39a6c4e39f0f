"""The pure, event-sourced core: events, streams, aggregates. No I/O here."""

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent, check_event_type
from duragraph_lab.domain.errors import (
    DuplicateEvent,
    DuraGraphError,
    EncodingError,
    InvalidEvent,
    InvalidStreamId,
    StoreUnavailable,
    UnknownStreamKind,
    VersionConflict,
)
from duragraph_lab.domain.ids import uuid7
from duragraph_lab.domain.streams import KNOWN_KINDS, StreamId, StreamKind

__all__ = [
    "KNOWN_KINDS",
    "DuplicateEvent",
    "DuraGraphError",
    "EncodingError",
    "InvalidEvent",
    "InvalidStreamId",
    "NewEvent",
    "RecordedEvent",
    "StoreUnavailable",
    "StreamId",
    "StreamKind",
    "UnknownStreamKind",
    "VersionConflict",
    "check_event_type",
    "uuid7",
]
