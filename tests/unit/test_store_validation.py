"""The checks and the encoding every event store runs before writing (store/validation.py)."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from types import MappingProxyType

import pytest

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import EncodingError
from duragraph_lab.store.validation import decoded, encode_append, encode_events, event_texts, payload_json

ID = uuid.UUID("0195f0a4-0000-7000-8000-000000000001")


def test_encode_append_gives_the_events_their_texts_and_the_payload() -> None:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events = [
        NewEvent("node_completed", {"n": 1, "l": [1.5, None]}, {"by": "w"}, event_id=ID),
        NewEvent("lg_writes", MappingProxyType({"at": when, "t": (1, 2)})),
    ]
    encoding = encode_append(events)
    assert encoding.encoded == encode_events(events)
    assert encoding.encoded[0] == {
        "event_id": str(ID),
        "type": "node_completed",
        "data": {"n": 1, "l": [1.5, None]},
        "meta": {"by": "w"},
    }
    assert encoding.encoded[1]["data"] == codec.to_jsonable({"at": when, "t": (1, 2)})
    assert encoding.texts == event_texts(encoding.encoded)
    assert encoding.payload == payload_json(encoding.encoded, encoding.texts)
    assert json.loads(encoding.payload) == encoding.encoded
    # What a reader gets back: the values themselves, tagged types restored.
    assert decoded(encoding.encoded[1]["data"], encoding.texts[1][0]) == {"at": when, "t": (1, 2)}


@pytest.mark.parametrize(
    ("data", "meta", "message", "path"),
    [
        ({"s": "a\x00b"}, {}, "event #1 (bad) data: strings cannot contain NUL", "$['s']"),
        ({}, {"k": ["\ud800"]}, "event #1 (bad) meta: string contains a lone surrogate", "$['k'][0]"),
        ({"f": math.inf}, {}, "event #1 (bad) data: cannot encode non-finite float", "$['f']"),
        ({2: "x"}, {}, "event #1 (bad) data: dict keys must be strings", "$"),
        ({"o": object()}, {}, "event #1 (bad) data: cannot encode value of type builtins.object", "$['o']"),
    ],
)
def test_encode_append_names_the_event_and_the_path_of_what_it_rejects(
    data: dict[object, object], meta: dict[str, object], message: str, path: str
) -> None:
    events = [NewEvent("good", {"ok": True}), NewEvent("bad", data, meta)]  # type: ignore[arg-type]
    with pytest.raises(EncodingError) as info:
        encode_append(events)
    assert message in str(info.value)
    assert info.value.path == path


def test_the_encoded_payload_shares_nothing_with_the_event() -> None:
    data = {"update": {"messages": [{"content": "hi"}]}}
    encoding = encode_append([NewEvent("node_completed", data)])
    encoding.encoded[0]["data"]["update"]["messages"][0]["content"] = "changed"
    assert data == {"update": {"messages": [{"content": "hi"}]}}
