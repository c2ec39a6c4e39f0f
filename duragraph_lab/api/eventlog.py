"""Event logs in bulk, as an Arrow IPC stream (``GET /runs/{run_id}/events.arrow`` and
``GET /threads/{thread_id}/events.arrow``): what ``events_frame`` reads to build a DataFrame of a
million events in seconds, where JSON pages of 1,000 events take minutes (figures:
docs/notebook.md, ``python -m benchmarks.event_frames``).

PostgreSQL does the work it is good at: one ``COPY (SELECT ...) TO STDOUT`` in seq order, with
the per-event columns a frame wants (node, task, step, attempt, duration_ms) read from the jsonb
payload server-side, and the payload itself as JSON text. The CSV it sends is cut into slices
of about :data:`SLICE_BYTES` at row ends; pyarrow parses each slice (in a thread, off the event
loop) into one record batch, written to the response as soon as it is made. Memory stays
bounded by a slice or two whatever the size of the log.

pyarrow is imported on first use (the server extension must load quickly).
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.worker.control import NotFound

#: Bytes of CSV parsed into one record batch (about 30,000 events of a typical size).
SLICE_BYTES = 8 << 20
#: IPC body compression: lz4 sends 40% of the bytes for little CPU (the server may be remote).
COMPRESSION: str | None = "lz4"
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


def _number(value: str) -> str:
    # Only JSON numbers (a string, bool or object under the key is "not there"), cast from jsonb
    # straight to float8; step and attempt are made integers by pyarrow (see arrow_stream).
    return f"CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value})::float8 END"


# Each number is looked up in the payload once (the LATERAL), not once per use: a third of the
# query's cost on a million events.
_SELECT = (
    "SELECT seq, stream_id, event_id, type, (extract(epoch FROM recorded_at) * 1000000)::bigint, "
    f"data->>'node', data->>'task', {_number('n.step')}, {_number('n.attempt')}, {_number('n.ms')}, "
    "data::text FROM duragraph.events, "
    "LATERAL (SELECT data->'step' AS step, data->'attempt' AS attempt, data->'duration_ms' AS ms OFFSET 0) AS n"
)


def _pyarrow() -> tuple[Any, Any]:
    pa = importlib.import_module("pyarrow")
    csv = importlib.import_module("pyarrow.csv")
    return pa, csv


_INTEGERS = ("step", "attempt")


def _csv_schema(pa: Any) -> Any:
    return pa.schema(
        [pa.field(name, pa.float64() if name in _INTEGERS else getattr(pa, kind)()) for name, kind in COLUMNS]
    )


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
    store: PostgresEventStore, streams: list[str], *, after: int = 0
) -> AsyncGenerator[bytes, None]:
    """The events of ``streams`` with ``seq > after``, in seq order, as Arrow IPC stream bytes:
    the schema first, then one chunk per record batch, then the end-of-stream marker."""
    pa, csv = _pyarrow()
    pc = importlib.import_module("pyarrow.compute")
    sch = schema()
    names = [name for name, _ in COLUMNS]
    at = names.index("recorded_at_us")
    read_options = csv.ReadOptions(column_names=names, use_threads=True, block_size=SLICE_BYTES * 2)
    # A text value (a node name, say) may hold a newline; parsing for that costs 4 times more.
    # A slice is parsed without first: where a row is split by such a newline, its first part
    # lacks the columns after it (the payload never holds a raw newline), so the parse fails
    # and the slice is parsed again allowing them.
    fast = csv.ParseOptions(newlines_in_values=False)
    careful = csv.ParseOptions(newlines_in_values=True)
    convert = csv.ConvertOptions(
        column_types=_csv_schema(pa),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    sink = _Sink()
    writer = pa.ipc.new_stream(sink, sch, options=pa.ipc.IpcWriteOptions(compression=COMPRESSION))

    def parse(block: bytes) -> bytes:
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
        for name in _INTEGERS:
            i = names.index(name)
            table = table.set_column(i, sch.field(i), _integers(pa, pc, table.column(i)))
        table = table.cast(sch)
        for batch in table.to_batches():
            writer.write_batch(batch)
        return sink.take()

    yield sink.take()
    if streams:
        params: tuple[Any, ...]
        if len(streams) == 1:
            # Within a stream, version order is seq order (the store's guarantee), and the
            # (stream_id, version) index reads it in that order: no scan of other runs' events.
            where, params = "stream_id = %s AND seq > %s ORDER BY version", (streams[0], after)
        else:
            where, params = "stream_id = ANY(%s) AND seq > %s ORDER BY seq", (streams, after)
        sql = f"COPY ({_SELECT} WHERE {where}) TO STDOUT (FORMAT csv)"
        pending: list[bytes] = []
        size = 0
        # A slice is parsed (in a thread) while PostgreSQL sends the next one.
        parsing: asyncio.Future[bytes] | None = None
        async with store.pool.connection() as conn, conn.cursor() as cur, cur.copy(sql, params) as copy:
            async for chunk in copy:
                pending.append(bytes(chunk))
                size += len(chunk)
                if size >= SLICE_BYTES:
                    buf = b"".join(pending)
                    cut = _last_row_end(buf)
                    pending, size = [buf[cut:]], len(buf) - cut
                    if cut:
                        if parsing is not None:
                            yield await parsing
                        parsing = asyncio.ensure_future(asyncio.to_thread(parse, buf[:cut]))
        if parsing is not None:
            yield await parsing
        rest = b"".join(pending)
        if rest:
            yield await asyncio.to_thread(parse, rest)
    writer.close()
    yield sink.take()


def _last_row_end(buf: bytes) -> int:
    """Where the last complete CSV row of ``buf`` (which starts at a row) ends: after a newline
    outside quotes (a text value, such as a node name, may hold a newline; quotes in values are
    doubled, so a newline is outside quotes when the quotes before it are even)."""
    cut = buf.rfind(b"\n")
    quotes = buf.count(b'"', 0, cut) if cut >= 0 else 0
    while cut >= 0 and quotes % 2:
        previous = buf.rfind(b"\n", 0, cut)
        quotes -= buf.count(b'"', max(previous, 0), cut)
        cut = previous
    return cut + 1


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
