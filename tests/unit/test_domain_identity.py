from __future__ import annotations

import os
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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_draw_its_parents_random_bytes() -> None:
    # Random bytes come from the OS in blocks (ids.py): a child forked holding part of a block
    # must not make the ids its parent makes next (the same millisecond gives the same prefix).
    uuid7()  # the parent holds a block now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, ",".join(str(uuid7()) for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    parent = {str(uuid7()) for _ in range(50)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    assert len(child) == 50
    # The random part (the last 62 bits) of no child id is one of the parent's.
    assert not {u[-12:] for u in child} & {u[-12:] for u in parent}
