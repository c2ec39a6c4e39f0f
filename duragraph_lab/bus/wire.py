"""How an event travels over NATS: JSON body plus headers a subscriber can act on unparsed."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

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
    head = json.dumps(
        {
            "seq": seq,
            "stream_id": stream_id,
            "version": version,
            "event_id": event_id,
            "type": event_type,
            "recorded_at": recorded_at.isoformat(),
        },
        separators=(",", ":"),
    )
    return f'{head[:-1]},"data":{data_json},"meta":{meta_json}}}'.encode()


def truncated_body(seq: int, stream_id: str, version: int, event_id: str, event_type: str) -> bytes:
    return json.dumps(
        {"seq": seq, "stream_id": stream_id, "version": version, "event_id": event_id, "type": event_type},
        separators=(",", ":"),
    ).encode()


def event_from_body(body: bytes) -> RecordedEvent:
    raw: dict[str, Any] = json.loads(body)
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
