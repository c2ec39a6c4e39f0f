"""Checks shared by every event store implementation, run before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import EncodingError, InvalidEvent
from duragraph_lab.domain.streams import StreamId


def check_append(stream_id: str, expected_version: int | None, events: Sequence[NewEvent]) -> StreamId:
    parsed = StreamId.parse(stream_id)
    if expected_version is not None and (
        not isinstance(expected_version, int) or isinstance(expected_version, bool) or expected_version < 0
    ):
        raise InvalidEvent(f"expected_version must be None or an int >= 0, not {expected_version!r}")
    if not events:
        raise InvalidEvent(f"nothing to append to {stream_id}")
    for event in events:
        if not isinstance(event, NewEvent):
            raise InvalidEvent(f"expected NewEvent, got {type(event).__name__}")
    ids = {e.event_id for e in events}
    if len(ids) != len(events):
        raise InvalidEvent(f"duplicate event_id within one append to {stream_id}")
    return parsed


class UnitOfWorkAborted(InvalidEvent):
    """An append in this unit of work failed; the transaction can only be rolled back now."""

    code = "unit_of_work_aborted"

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"an earlier append in this transaction failed ({cause}); it can only roll back")


@dataclass(frozen=True, slots=True)
class EncodedAppend:
    """An append's events encoded once, for the statement and for the recorded events."""

    #: Per event: ``event_id`` (text), ``type``, ``data`` and ``meta`` as plain JSON data.
    encoded: list[dict[str, Any]]
    #: Per event: its data and its meta as JSON text (:attr:`RecordedEvent.json_text`).
    texts: list[tuple[str, str]]
    #: The events as one JSON array, the statement's parameter.
    payload: str


def encode_append(events: Sequence[NewEvent]) -> EncodedAppend:
    """Encode payloads up front, so an unencodable value fails the append before any write: each
    payload is walked and written once (:func:`codec.encode_json`)."""
    encoded = []
    texts = []
    for i, event in enumerate(events):
        data, data_text = _encode(event.data, i, event.type, "data")
        meta, meta_text = _encode(event.meta, i, event.type, "meta")
        encoded.append({"event_id": str(event.event_id), "type": event.type, "data": data, "meta": meta})
        texts.append((data_text, meta_text))
    return EncodedAppend(encoded, texts, payload_json(encoded, texts))


def _encode(value: Mapping[str, Any], i: int, event_type: str, part: str) -> tuple[Any, str]:
    try:
        return codec.encode_json(value if type(value) is dict else dict(value))
    except EncodingError as err:
        raise EncodingError(f"event #{i} ({event_type}) {part}: {err.reason}", err.path) from None


def encode_events(events: Sequence[NewEvent]) -> list[dict[str, Any]]:
    """Each event's ``event_id`` (text), ``type``, ``data`` and ``meta`` as plain JSON data (see
    :func:`encode_append`)."""
    return encode_append(events).encoded


def event_texts(encoded: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each event of ``encoded`` (see :func:`encode_events`): its data and its meta as JSON text."""
    return [(codec.plain_json(e["data"]), codec.plain_json(e["meta"])) for e in encoded]


def payload_json(encoded: list[dict[str, Any]], texts: list[tuple[str, str]] | None = None) -> str:
    """``encoded`` (plain JSON data, see :func:`encode_events`) as JSON text for PostgreSQL, from
    ``texts`` (:func:`event_texts`) when given."""
    if texts is None:
        texts = event_texts(encoded)
    # event_id is a UUID's text and type a checked event type: neither needs escaping.
    return (
        "["
        + ",".join(
            f'{{"event_id":"{e["event_id"]}","type":"{e["type"]}","data":{data},"meta":{meta}}}'
            for e, (data, meta) in zip(encoded, texts, strict=True)
        )
        + "]"
    )


_TAG_TEXT = f'"{codec.TAG}"'


def decoded(encoded: Any, text: str) -> Any:
    """What a reader gets back for ``encoded`` (a payload from :func:`encode_append`), ``text``
    its JSON text: ``encoded`` itself when it holds no tagged value (codec.encode_json built it
    of new dicts and lists, shared with no caller, so it is the decoded copy already), else a
    decoded copy of it. Spares a walk of every appended event's payload."""
    return codec.from_jsonable(encoded) if _TAG_TEXT in text else encoded
