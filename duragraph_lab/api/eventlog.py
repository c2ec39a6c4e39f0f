"""Event logs in bulk, as an Arrow IPC stream (``GET /runs/{run_id}/events.arrow`` and
``GET /threads/{thread_id}/events.arrow``): what ``events_frame`` reads to build a DataFrame of a
million events in seconds, where JSON pages of 1,000 events take minutes (figures:
docs/notebook.md, ``python -m benchmarks.event_frames``).

PostgreSQL does the work it is good at: the log comes out as CSV, several ranges at once
(:mod:`duragraph_lab.store.eventlog`). pyarrow parses each range's CSV (in a thread, off the
event loop) into record batches of about :data:`SLICE_BYTES` of CSV, written to the response as
soon as they are made. Memory stays bounded by a few ranges whatever the size of the log.

pyarrow is imported on first use (the server extension must load quickly).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncGenerator
from typing import Any

from duragraph_lab.control.eventlog import COLUMNS as CSV_COLUMNS
from duragraph_lab.control.eventlog import BulkEventLog

#: Bytes of CSV per record batch (about 30,000 events of a typical size).
SLICE_BYTES = 8 << 20
#: IPC body compression by default: lz4 sends 40% of the bytes for little CPU (the server may be
#: remote). A client on the same machine asks for none (``?compression=none``).
COMPRESSION: str | None = "lz4"
COMPRESSIONS = ("lz4", "zstd", "none")
MEDIA_TYPE = "application/vnd.apache.arrow.stream"

# The Arrow type of each CSV column (see control.eventlog.COLUMNS for what they hold). Every text
# column may be null except stream, event_id, type and data.
_KINDS = {
    "seq": "int64",
    "stream": "string",
    "event_id": "string",
    "type": "string",
    "recorded_at_us": "int64",
    "node": "string",
    "task": "string",
    "step": "int64",  # float64 in the CSV
    "attempt": "int64",  # float64 in the CSV
    "duration_ms": "float64",
    "data": "string",
}
COLUMNS = tuple((name, _KINDS[name]) for name in CSV_COLUMNS)

# The numbers travel as their JSON text (see store.eventlog.SELECT) and are made numbers here.
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


async def arrow_stream(
    log: BulkEventLog, streams: list[str], *, after: int = 0, compression: str | None = COMPRESSION
) -> AsyncGenerator[bytes, None]:
    """The events of ``streams`` with ``seq > after``, in seq order, as Arrow IPC stream bytes:
    the schema first, then the record batches of each range of the log (see
    :mod:`duragraph_lab.store.eventlog`), then the end-of-stream marker. ``compression``: the IPC
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
    # A range is parsed and written (in threads) while the next ones are copied.
    async for data in log.csv_ranges(streams, after=after):
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
