from __future__ import annotations

import uuid

import pytest

from duragraph_lab.domain import (
    InvalidEvent,
    InvalidStreamId,
    NewEvent,
    StreamId,
    StreamKind,
    UnknownStreamKind,
    uuid7,
)


def test_stream_id_round_trips() -> None:
    sid = StreamId(StreamKind.RUN, uuid.uuid4())
    assert StreamId.parse(str(sid)) == sid
    assert StreamId.of("thread", sid.id).kind is StreamKind.THREAD


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("flow:0195f0a4-0000-7000-8000-000000000001", UnknownStreamKind, "unknown stream kind 'flow'"),
        ("run-0195f0a4", InvalidStreamId, "not of the form"),
        ("run:not-a-uuid", InvalidStreamId, "is not a UUID"),
        ("", InvalidStreamId, "not of the form"),
        (42, InvalidStreamId, "must be a string"),
    ],
)
def test_bad_stream_ids_raise_typed_errors(raw: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        StreamId.parse(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "1abc", "has.dot", "wild*", "sp ace", "x" * 101, "gt>"])
def test_event_types_must_be_subject_safe(bad: str) -> None:
    with pytest.raises(InvalidEvent, match="invalid event type"):
        NewEvent(bad)


def test_event_payloads_must_be_mappings() -> None:
    with pytest.raises(InvalidEvent, match="data must be a mapping"):
        NewEvent("ok", data=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent, match="meta must be a mapping"):
        NewEvent("ok", meta="x")  # type: ignore[arg-type]


def test_uuid7_is_version_7_and_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert all(u.version == 7 for u in ids)
    assert all(u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
