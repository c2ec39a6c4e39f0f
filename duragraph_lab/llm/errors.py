"""Errors raised by the model clients."""

from __future__ import annotations

from duragraph_lab.domain.errors import DuraGraphError


class ModelError(DuraGraphError):
    """Base class of the errors a chat model raises on purpose."""

    code = "model_error"


class MissingAPIKey(ModelError, ValueError):
    """The model endpoint needs an API key and none was given or configured."""

    code = "model_missing_api_key"


class ReplayExhausted(ModelError, LookupError):
    """A re-executed node made more model calls than were recorded for its task."""

    code = "model_replay_exhausted"


class RecordedModelError(ModelError):
    """Re-execution of a model call that failed when it was recorded (the node caught it)."""

    code = "model_recorded_error"


class ScriptExhausted(ModelError, LookupError):
    """A :class:`ScriptedChatModel` was called more often than it has scripted responses."""

    code = "model_script_exhausted"


class ModelResponseError(ModelError):
    """The model endpoint answered with something unusable (an error inside the stream,
    malformed tool-call arguments, ...). Retried by the default retry policy."""

    code = "model_bad_response"
