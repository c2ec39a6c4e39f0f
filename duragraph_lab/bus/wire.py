"""How an event travels over NATS: JSON body plus headers a subscriber can act on unparsed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import RecordedEvent

H_MSG_ID = "Nats-Msg-Id"  # JetStream de-duplicates on this: we use the event id
H_SEQ = "Duragraph-Seq"
H_STREAM = "Duragraph-Stream"
H_VERSION = "Duragraph-Version"
H_TYPE = "Duragraph-Type"
H_TRUNCATED = "Duragraph-Truncated"  # body too large for NATS: fetch the event from PostgreSQL


def headers_for(seq: int, stream_id: str, version: int, event_id: str, event_type: str) -> dict[str, str]:
    return {
        H_MSG_ID: event_id,
        H_SEQ: str(seq),
        H_STREAM: stream_id,
        H_VERSION: str(version),
        H_TYPE: event_type,
    }


def body_from_row(
    seq: int,
    stream_id: str,
    version: int,
    event_id: str,
    event_type: str,
    data_json: str,
    meta_json: str,
    recorded_at: datetime,
) -> bytes:
    """Build the body from PostgreSQL's JSON text without decoding and re-encoding the payload."""
    head = orjson.dumps(
        {
            "seq": seq,
            "stream_id": stream_id,
            "version": version,
            "event_id": event_id,
            "type": event_type,
            "recorded_at": recorded_at.isoformat(),
        }
    )
    return b"".join((head[:-1], b',"data":', data_json.encode(), b',"meta":', meta_json.encode(), b"}"))


def body_from_event(event: RecordedEvent) -> bytes:
    """The body the relay would publish for ``event``, built from the event itself (from the JSON
    text it was stored as, when the writer kept it)."""
    data, meta = event.json_text if event.json_text is not None else (_json(event.data), _json(event.meta))
    return body_from_row(
        event.seq,
        event.stream_id,
        event.version,
        str(event.event_id),
        event.type,
        data,
        meta,
        event.recorded_at,
    )


def _json(value: Any) -> str:
    plain = codec.to_jsonable(value)
    try:
        return orjson.dumps(plain).decode()  # as json.dumps writes plain data, faster
    except TypeError:  # integers beyond 64 bits
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)


def fresh_message(events: Sequence[RecordedEvent], max_payload: int) -> bytes:
    """One stream's events just committed, as one message (``[]`` if they would not fit)."""
    bodies = [body_from_event(e) for e in events]
    if sum(len(b) + 1 for b in bodies) + 2 > max_payload:
        return b"[]"  # subscribers wait for the relay's copy (or read PostgreSQL)
    return b"[" + b",".join(bodies) + b"]"


def events_from_fresh(data: bytes) -> list[RecordedEvent]:
    return [_event_from_raw(raw) for raw in json.loads(data)]


def truncated_body(seq: int, stream_id: str, version: int, event_id: str, event_type: str) -> bytes:
    return json.dumps(
        {"seq": seq, "stream_id": stream_id, "version": version, "event_id": event_id, "type": event_type},
        separators=(",", ":"),
    ).encode()


def event_from_body(body: bytes) -> RecordedEvent:
    return _event_from_raw(json.loads(body))


def _event_from_raw(raw: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        seq=int(raw["seq"]),
        stream_id=raw["stream_id"],
        version=int(raw["version"]),
        event_id=uuid.UUID(raw["event_id"]),
        type=raw["type"],
        data=codec.from_jsonable(raw["data"]),
        meta=codec.from_jsonable(raw["meta"]),
        recorded_at=datetime.fromisoformat(raw["recorded_at"]),
    )
