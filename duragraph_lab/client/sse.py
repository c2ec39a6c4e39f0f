"""Server-sent events: a small incremental parser, and the bookkeeping that makes a resumed
stream deliver every part exactly once.

The parser follows the HTML living standard's event-stream interpretation: lines end with
``\\n``, ``\\r\\n`` or ``\\r`` (also when split across chunks); ``:`` starts a comment (the
server's keep-alives); ``data`` lines of one event are joined with ``\\n``; an event is
dispatched at a blank line and only if it has data; ``id`` sets the last event id (ignored when it
holds NUL); ``retry`` sets the reconnection delay; a leading BOM is dropped.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class StreamPart(NamedTuple):
    """One frame of a run's stream: ``event`` (``metadata``, ``values``, ``updates``,
    ``messages``, ``custom``, ``error``, ``values|ns`` ...), ``data`` (decoded JSON, or the text
    when it is not JSON) and ``id`` (the global event seq, on frames made from durable events;
    None on live frames such as token chunks)."""

    event: str
    data: Any
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A dispatched event as the standard defines it, before JSON decoding."""

    event: str
    data: str
    id: str | None  # the ``id`` field of this event, None when it had none
    last_event_id: str  # the stream's last event id after this event (may come from an earlier one)
    retry: int | None = None


def decode_data(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def to_part(raw: RawEvent) -> StreamPart:
    return StreamPart(raw.event, decode_data(raw.data), raw.id)


class SSEDecoder:
    """Feed bytes as they arrive; get the events they complete. An event left unterminated when
    the stream ends is dropped, as the standard says (it was never dispatched)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id = ""
        self.retry: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> Iterator[RawEvent]:
        if not chunk:
            return
        if self._pending_cr:
            # A CR ended the previous chunk: a LF opening this one belongs to the same line end.
            self._pending_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        self._buffer += chunk
        while True:
            cr, lf = self._buffer.find(b"\r"), self._buffer.find(b"\n")
            if cr < 0 and lf < 0:
                return
            if cr >= 0 and (lf < 0 or cr < lf):
                line, end = self._buffer[:cr], cr + 1
                if end == len(self._buffer):
                    self._pending_cr = True
                elif self._buffer[end : end + 1] == b"\n":
                    end += 1
            else:
                line, end = self._buffer[:lf], lf + 1
            self._buffer = self._buffer[end:]
            event = self._line(line)
            if event is not None:
                yield event

    def _line(self, raw: bytes) -> RawEvent | None:
        text = raw.decode("utf-8", errors="replace")
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if not text:
            return self._dispatch()
        if text.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> RawEvent | None:
        event, data, event_id = self._event or "message", self._data, self._id
        self._event, self._data, self._id = "", [], None
        if not data:
            return None
        return RawEvent(event, "\n".join(data), event_id, self.last_event_id, self.retry)


def parse(payload: bytes | str) -> list[StreamPart]:
    """Every complete event of a whole SSE body (a convenience for tests and files)."""
    decoder = SSEDecoder()
    body = payload.encode() if isinstance(payload, str) else payload
    return [to_part(e) for e in decoder.feed(body)]


def _seq(event_id: str | None) -> int | None:
    if event_id is None:
        return None
    try:
        return int(event_id.strip())
    except ValueError:
        return None


def _same_metadata(a: Any, b: Any) -> bool:
    """Whether a ``metadata`` frame repeats another: same run (and same ``status`` on a thread
    stream's ``run_done`` markers); the attempt number may have moved on."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return bool(a == b)
    return bool(a.get("run_id") == b.get("run_id") and a.get("status") == b.get("status"))


@dataclass
class Resumption:
    """Exactly-once delivery over reconnections.

    Frames made from durable events carry ``id: <seq>`` (on the last frame of each event); the
    client sends the last one back as ``Last-Event-ID`` and the server resumes after it. What this
    guards against:

    - the ``metadata`` frame the server sends first on every connection, and on a thread's stream
      the run start/``run_done`` markers of the run it was in (skipped when they repeat one already
      delivered: same run, same ``status``);
    - frames of an event whose id-bearing frame was lost with the connection: the server sends that
      event again, so its first frames, already delivered, come again (skipped: they are the
      ``tail`` delivered since the last id);
    - a server (or proxy) that does not honour ``Last-Event-ID`` and starts over: frames with an
      id at or below the last one are dropped with the id-less frames before them.

    After a reconnect, id-less frames are held back until the first new id-bearing frame says
    where the server resumed (or the stream ends); then they are released.
    """

    last_id: str | None = None
    last_seq: int | None = None
    tail: list[tuple[str, str]] = field(default_factory=list)
    metadata: deque[Any] = field(default_factory=lambda: deque(maxlen=256))  # delivered, newest last
    resyncing: bool = False
    held: list[tuple[StreamPart, tuple[str, str]]] = field(default_factory=list)

    def reconnected(self) -> None:
        """A new connection starts: what it sends first may repeat what came before."""
        # Frames still held from an interrupted resync will be sent again by the server too.
        self.held = []
        self.resyncing = True

    def accept(self, raw: RawEvent) -> list[StreamPart]:
        """The parts to deliver for one received frame (none, it, or it after held ones)."""
        key = (raw.event, raw.data)
        part = to_part(raw)
        if self.resyncing:
            if (
                raw.event == "metadata"
                and raw.id is None
                and any(_same_metadata(seen, part.data) for seen in self.metadata)
            ):
                return []
            if raw.id is None:
                self.held.append((part, key))
                return []
            seq = _seq(raw.id)
            if self._already_delivered(raw.id, seq):
                self.held = []
                return []
            self.resyncing = False
            out = [*self._release(), part]
            self._delivered_id(raw.id, seq)
            return out
        if raw.id is not None:
            seq = _seq(raw.id)
            if self._already_delivered(raw.id, seq):
                return []
            self._delivered_id(raw.id, seq)
        else:
            self._delivered_plain(part, key)
        return [part]

    def finish(self) -> list[StreamPart]:
        """The stream ended while frames were held: release them (minus repeats)."""
        if not self.resyncing:
            return []
        self.resyncing = False
        return self._release()

    def _already_delivered(self, event_id: str, seq: int | None) -> bool:
        if seq is not None and self.last_seq is not None:
            return seq <= self.last_seq
        return event_id == self.last_id

    def _delivered_id(self, event_id: str, seq: int | None) -> None:
        self.last_id, self.last_seq = event_id, seq
        self.tail = []

    def _delivered_plain(self, part: StreamPart, key: tuple[str, str]) -> None:
        if part.event == "metadata":
            # Not part of the tail: a repeated metadata frame is recognised by its run.
            self.metadata.append(part.data)
        else:
            self.tail.append(key)

    def _release(self) -> list[StreamPart]:
        """Held frames minus those repeating the tail. The server sends an event's frames again
        in their order, but not the live frames (tokens, custom) that came between them: a held
        frame is a repeat when it matches the tail at or after the previous match."""
        out: list[StreamPart] = []
        repeat = list(self.tail)
        for part, key in self.held:
            if key in repeat:
                del repeat[: repeat.index(key) + 1]
                continue
            out.append(part)
            self._delivered_plain(part, key)
        self.held = []
        return out
