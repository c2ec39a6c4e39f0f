"""Typed errors shared by every layer.

Callers (HTTP handlers, the CLI, notebook magics) map these to user-facing messages, so each
carries the facts needed to say precisely what went wrong.
"""

from __future__ import annotations


class DuraGraphError(Exception):
    """Base class of every error DuraGraph Lab raises on purpose."""

    code = "duragraph_error"


class InvalidStreamId(DuraGraphError, ValueError):
    """A stream id is not of the form ``<kind>:<uuid>``."""

    code = "invalid_stream_id"


class UnknownStreamKind(InvalidStreamId):
    """A stream id names a kind the event store does not know."""

    code = "unknown_stream_kind"

    def __init__(self, kind: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown stream kind {kind!r}; expected one of: {', '.join(known)}")
        self.kind = kind


class InvalidEvent(DuraGraphError, ValueError):
    """An event to append is malformed (bad type name, payload not an object, ...)."""

    code = "invalid_event"


class EncodingError(InvalidEvent):
    """A payload holds a value the JSON codec cannot round-trip."""

    code = "encoding_error"

    def __init__(self, reason: str, path: str = "$") -> None:
        super().__init__(f"{reason} at {path}")
        self.reason = reason
        self.path = path


class VersionConflict(DuraGraphError):
    """An append's expected version does not match the stream's current version."""

    code = "version_conflict"

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(
            f"stream {stream_id}: expected version {expected}, but the stream is at version {actual}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEvent(DuraGraphError):
    """An event with the same ``event_id`` was already appended (a retried append)."""

    code = "duplicate_event"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} was already appended")
        self.event_id = event_id


class StoreUnavailable(DuraGraphError):
    """The event store cannot be reached. ``retry_after``: seconds after which trying again is
    worth it, when the store knows (None: it does not)."""

    code = "store_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreTransientError(StoreUnavailable):
    """The database refused a statement for a reason that passes: a deadlock, a serialization
    failure, a cancelled statement, a full disk, too many connections. Nothing of the statement
    was written; the same statement may succeed when tried again later."""

    code = "store_transient_error"

    def __init__(
        self, message: str, *, sqlstate: str, reason: str, attempts: int = 1, retried_for: float = 0.0
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.reason = reason
        #: How often the statement was tried, and for how many seconds, before this was raised.
        self.attempts = attempts
        self.retried_for = retried_for


class NotFound(DuraGraphError):
    """What a request names (a thread, a run, a checkpoint, an assistant, ...) does not exist."""

    code = "not_found"


class ThreadBusy(DuraGraphError):
    """The thread has a run that must finish, or be resumed or cancelled, first."""

    code = "thread_busy"


class Conflict(DuraGraphError):
    """The request conflicts with the current state (it exists already, someone else won a race)."""

    code = "conflict"


class WorkerUnavailable(DuraGraphError):
    """No executor serving the graph answered (re-execution needs the graph's code)."""

    code = "worker_unavailable"
