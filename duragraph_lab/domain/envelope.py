"""Event envelopes: what a writer appends and what a reader gets back."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from duragraph_lab.domain.errors import InvalidEvent
from duragraph_lab.domain.ids import uuid7

# Event types become a NATS subject token, so they may not contain '.', '*', '>' or spaces.
_EVENT_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")


def check_event_type(event_type: str) -> str:
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise InvalidEvent(
            f"invalid event type {event_type!r}: use 1-100 letters, digits, '_' or '-', starting with a letter"
        )
    return event_type


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``event_id`` is chosen by the writer so that retries are idempotent."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid7)

    def __post_init__(self) -> None:
        check_event_type(self.type)
        if not isinstance(self.data, Mapping):
            raise InvalidEvent(f"event {self.type}: data must be a mapping, not {type(self.data).__name__}")
        if not isinstance(self.meta, Mapping):
            raise InvalidEvent(f"event {self.type}: meta must be a mapping, not {type(self.meta).__name__}")
        if not isinstance(self.event_id, uuid.UUID):
            raise InvalidEvent(f"event {self.type}: event_id must be a UUID")


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: ``seq`` is the global order, ``version`` the position in its stream (1-based)."""

    seq: int
    stream_id: str
    version: int
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]
    meta: dict[str, Any]
    recorded_at: datetime
    #: ``data`` and ``meta`` as the JSON text that was stored, when the writer has it at hand (an
    #: event it just appended): who sends the event on (the worker's ``fresh`` messages) need not
    #: encode it again. Not part of the event's value (equality, repr).
    json_text: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    def without_text(self) -> RecordedEvent:
        """The event without :attr:`json_text`: what a reader that keeps events (a run's
        executor keeps its run's) should hold, the text being as large as the payload."""
        return self if self.json_text is None else dataclasses.replace(self, json_text=None)

    @property
    def stream_kind(self) -> str:
        return self.stream_id.partition(":")[0]
