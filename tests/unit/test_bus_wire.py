"""Fresh-event messages (duragraph_lab/bus/wire.py): a worker's just-committed events travel as
the relay would publish them, and never beyond what NATS accepts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

from duragraph_lab.bus import wire
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.store.validation import encode_events, event_texts


def event(version: int, data: dict[str, object]) -> RecordedEvent:
    return RecordedEvent(
        seq=100 + version,
        stream_id=f"run:{uuid.UUID(int=7)}",
        version=version,
        event_id=uuid.uuid4(),
        type="node_completed",
        data=data,
        meta={"by": "w"},
        recorded_at=dt.datetime(2026, 11, 21, 18, 0, version, tzinfo=dt.UTC),
    )


def test_fresh_events_come_back_as_they_were_committed() -> None:
    events = [
        event(1, {"update": {"n": 1}, "when": dt.date(2026, 1, 2), "pair": (1, 2), "big": 2**70}),
        event(2, {"text": "été \u2603"}),
    ]
    assert wire.events_from_fresh(wire.fresh_message(events, 1 << 20)) == events
    # The same body the relay builds from PostgreSQL's row.
    assert wire.event_from_body(wire.body_from_event(events[1])) == events[1]


def test_events_too_big_for_one_message_are_left_to_the_relay() -> None:
    events = [event(1, {"blob": "x" * 5000})]
    assert wire.fresh_message(events, 4096) == b"[]"
    assert wire.events_from_fresh(b"[]") == []


def test_the_stored_json_text_is_sent_as_is() -> None:
    """An event its writer just appended carries the JSON text it was stored as: the fresh message
    uses it instead of encoding the event again, and it reads back the same."""
    data = {"update": {"n": 1}, "pair": (1, 2), "big": 2**70, "text": "été"}
    plain = event(1, data)
    encoded = encode_events([NewEvent("node_completed", data, {"by": "w"})])
    stored = dataclasses.replace(plain, json_text=event_texts(encoded)[0])
    assert stored == plain  # the text is not part of the event's value
    marked = dataclasses.replace(plain, json_text=('{"marker":1}', "{}"))
    assert wire.event_from_body(wire.body_from_event(marked)).data == {"marker": 1}  # the text goes out
    assert wire.events_from_fresh(wire.fresh_message([stored], 1 << 20)) == [plain]  # and reads back


def test_a_body_built_from_a_row_is_its_json_text_in_an_envelope() -> None:
    when = dt.datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=dt.UTC)
    body = wire.body_from_row(7, "run:é", 3, str(uuid.UUID(int=1)), "typé", '{"a": [1, "ü"]}', "{}", when)
    assert json.loads(body) == {
        "seq": 7,
        "stream_id": "run:é",
        "version": 3,
        "event_id": str(uuid.UUID(int=1)),
        "type": "typé",
        "recorded_at": when.isoformat(),
        "data": {"a": [1, "ü"]},
        "meta": {},
    }
    assert b'"data":{"a": [1, "\xc3\xbc"]}' in body  # the stored text, not re-encoded
