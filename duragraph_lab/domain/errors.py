"""Typed errors shared by every layer.

Callers (HTTP handlers, the CLI, notebook magics) map these to user-facing messages, so each
carries the facts needed to say precisely what went wrong. An error a request can cause says
which 4xx it is (``http_status``; 400 when it does not say).
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


class ReadModelConflict(DuraGraphError):
    """An append would break a uniqueness rule of a read model (a dataset name already taken, an
    example already recorded in an experiment): nothing of it was written. ``constraint``: the
    rule's name in the store."""

    code = "conflict"
    http_status = 409

    def __init__(self, message: str, *, constraint: str) -> None:
        super().__init__(message)
        self.constraint = constraint


class NotFound(DuraGraphError):
    """What a request names does not exist (an assistant, a dataset, an experiment, a run)."""

    code = "not_found"
    http_status = 404


class Conflict(DuraGraphError):
    """A request that contradicts what the log already holds (an id taken, a result recorded)."""

    code = "conflict"
    http_status = 409


class InvalidRequest(DuraGraphError):
    """A request that is well-formed but asks for something that cannot be done."""

    code = "invalid_request"
    http_status = 422


class EmptySelection(DuraGraphError):
    """A dataset version would have no examples."""

    code = "empty_selection"
    http_status = 422


class DatasetExists(Conflict):
    """A dataset of that name exists already."""

    code = "dataset_exists"


class ThreadBusy(DuraGraphError):
    """The thread has a run that must finish, or be resumed or cancelled, first."""

    code = "thread_busy"


class WorkerUnavailable(DuraGraphError):
    """No executor serving the graph answered (re-execution needs the graph's code)."""

    code = "worker_unavailable"
