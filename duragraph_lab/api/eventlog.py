"""Event logs in bulk, as an Arrow IPC stream (``GET /runs/{run_id}/events.arrow`` and
``GET /threads/{thread_id}/events.arrow``): what ``events_frame`` reads to build a DataFrame of a
million events in seconds, where JSON pages of 1,000 events take minutes (figures:
docs/notebook.md, ``python -m benchmarks.event_frames``).

PostgreSQL does the work it is good at: ``COPY (SELECT ...) TO STDOUT`` in seq order, several
ranges of the log at once (:mod:`duragraph_lab.api.bulk_copy`), with the per-event columns a
frame wants (node, task, step, attempt, duration_ms) read from the jsonb payload server-side, and
the payload itself as JSON text. pyarrow parses each range's CSV (in a thread, off the event
loop) into record batches of about :data:`SLICE_BYTES` of CSV, written to the response as soon
as they are made. Memory stays bounded by a few ranges whatever the size of the log.

pyarrow is imported on first use (the server extension must load quickly).
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from duragraph_lab.api import bulk_copy
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.store.postgres import PostgresEventStore

#: Bytes of CSV per record batch (about 30,000 events of a typical size).
SLICE_BYTES = 8 << 20
#: IPC body compression by default: lz4 sends 40% of the bytes for little CPU (the server may be
#: remote). A client on the same machine asks for none (``?compression=none``).
COMPRESSION: str | None = "lz4"
COMPRESSIONS = ("lz4", "zstd", "none")
MEDIA_TYPE = "application/vnd.apache.arrow.stream"

# The columns, in order. Every text column may be null except stream, event_id, type and data.
COLUMNS = (
    ("seq", "int64"),
    ("stream", "string"),
    ("event_id", "string"),
    ("type", "string"),
    ("recorded_at_us", "int64"),
    ("node", "string"),
    ("task", "string"),
    ("step", "int64"),  # float64 in the CSV
    ("attempt", "int64"),  # float64 in the CSV
    ("duration_ms", "float64"),
    ("data", "string"),
)


# The per-event columns are read from the payload with a key lookup in the binary jsonb (nearly
# free); the numbers travel as their JSON text and pyarrow makes them numbers (see _numbers): a
# JSON string, bool or object under the key is quoted or not a number, so it reads as "not
# there". Casting them in SQL (jsonb_typeof + ::float8 per column) cost PostgreSQL more than the
# rest of the query together.
_SELECT = (
    "SELECT seq, stream_id, event_id, type, (extract(epoch FROM recorded_at) * 1000000)::bigint, "
    "data->>'node', data->>'task', data->'step', data->'attempt', data->'duration_ms', "
    "data::text FROM duragraph.events"
)
_NUMBERS = ("step", "attempt", "duration_ms")
#: A JSON number.
_NUMBER_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


def _pyarrow() -> tuple[Any, Any]:
    pa = importlib.import_module("pyarrow")
    csv = importlib.import_module("pyarrow.csv")
    return pa, csv


_INTEGERS = ("step", "attempt")


def _csv_schema(pa: Any) -> Any:
    return pa.schema(
        [pa.field(name, pa.string() if name in _NUMBERS else getattr(pa, kind)()) for name, kind in COLUMNS]
    )


def _numbers(pa: Any, pc: Any, column: Any) -> Any:
    """A column of JSON texts as float64: what is not a JSON number is null."""
    valid = pc.match_substring_regex(column, _NUMBER_PATTERN)
    return pc.if_else(valid, column, pa.scalar(None, pa.string())).cast(pa.float64())


def _integers(pa: Any, pc: Any, column: Any) -> Any:
    """Truncated to int64; what does not fit (or is not finite) is null."""
    fits = pc.and_(pc.is_finite(column), pc.less(pc.abs(column), 9.2e18))
    return pc.if_else(fits, pc.trunc(column), pa.scalar(None, pa.float64())).cast(pa.int64())


def schema() -> Any:
    """The stream's schema: the columns above, ``recorded_at`` a UTC timestamp (microseconds)."""
    pa, _ = _pyarrow()
    fields = [
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False)
        if name == "recorded_at_us"
        else pa.field(name, getattr(pa, kind)(), nullable=name not in _NOT_NULL)
        for name, kind in COLUMNS
    ]
    return pa.schema(fields, metadata={b"duragraph.format": b"events/1"})


_NOT_NULL = ("seq", "stream", "event_id", "type", "data")


async def streams_of(
    store: PostgresEventStore, *, run_id: str | None = None, thread_id: str | None = None
) -> list[str]:
    """The streams whose events make the log: the run's, or those of every run of the thread.
    Raises NotFound for an id that is not a run (a thread) with events."""
    if run_id is not None:
        rid = _uuid(run_id, "run")
        if await store.stream_version(f"run:{rid}") == 0:
            raise NotFound(f"run {run_id} does not exist")
        return [f"run:{rid}"]
    assert thread_id is not None
    tid = _uuid(thread_id, "thread")
    rows = await store._query(
        "SELECT EXISTS (SELECT 1 FROM duragraph.threads WHERE thread_id = %s), "
        "coalesce((SELECT array_agg('run:' || run_id::text) FROM duragraph.runs WHERE thread_id = %s), "
        "'{}'::text[])",
        (tid, tid),
    )
    exists, streams = rows[0]
    if not exists:
        raise NotFound(f"thread {thread_id} does not exist")
    return list(streams)


def _uuid(value: str, kind: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"{kind} {value!r} is not a valid id") from None


async def arrow_stream(
    store: PostgresEventStore, streams: list[str], *, after: int = 0, compression: str | None = COMPRESSION
) -> AsyncGenerator[bytes, None]:
    """The events of ``streams`` with ``seq > after``, in seq order, as Arrow IPC stream bytes:
    the schema first, then the record batches of each range of the log (see
    :mod:`duragraph_lab.api.bulk_copy`), then the end-of-stream marker. ``compression``: the IPC
    body compression (``"lz4"``, ``"zstd"`` or None)."""
    pa, csv = _pyarrow()
    pc = importlib.import_module("pyarrow.compute")
    sch = schema()
    names = [name for name, _ in COLUMNS]
    at = names.index("recorded_at_us")
    read_options = csv.ReadOptions(column_names=names, use_threads=True, block_size=SLICE_BYTES)
    # A text value (a node name, say) may hold a newline; parsing for that costs 4 times more.
    # A range is parsed without first: where a row is split by such a newline, its first part
    # lacks the columns after it (the payload never holds a raw newline), so the parse fails
    # and the range is parsed again allowing them.
    fast = csv.ParseOptions(newlines_in_values=False)
    careful = csv.ParseOptions(newlines_in_values=True)
    convert = csv.ConvertOptions(
        column_types=_csv_schema(pa),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    sink = _Sink()
    writer = pa.ipc.new_stream(sink, sch, options=pa.ipc.IpcWriteOptions(compression=compression))

    def parse(block: bytes) -> Any:
        try:
            table = csv.read_csv(
                pa.py_buffer(block), read_options=read_options, parse_options=fast, convert_options=convert
            )
        except pa.ArrowInvalid:
            table = csv.read_csv(
                pa.py_buffer(block), read_options=read_options, parse_options=careful, convert_options=convert
            )
        stamps = table.column(at).cast(pa.timestamp("us", tz="UTC"))
        table = table.set_column(at, sch.field(at), stamps)
        for name in _NUMBERS:
            i = names.index(name)
            values = _numbers(pa, pc, table.column(i))
            if name in _INTEGERS:
                values = _integers(pa, pc, values)
            table = table.set_column(i, sch.field(i), values)
        return table.cast(sch)

    def write(table: Any) -> bytes:
        for batch in table.to_batches():
            writer.write_batch(batch)
        return sink.take()

    yield sink.take()
    ranges = await bulk_copy.plan(store, streams, after=after)
    # A range is parsed and written (in threads) while the next ones are copied.
    async for _, data in bulk_copy.copy_ranges(store, _SELECT, ranges):
        if data:
            table = await asyncio.to_thread(parse, data)
            yield await asyncio.to_thread(write, table)
    writer.close()
    yield sink.take()


class _Sink:
    """A file-like object pyarrow writes to, drained after every batch."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out
