"""Event logs and spans as pandas DataFrames (pandas is imported when first needed).

Columns are typed: timestamps ``datetime64[ns, UTC]``, low-cardinality strings (``type``,
``node``, ``status``, ``stream``) categorical, other strings (ids, ``task``, ``error``) pandas'
``str`` dtype, step/attempt nullable integers (``Int64``), durations float milliseconds;
``data`` holds each event's payload (a dict; or its JSON text, ``str``).
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterable
from typing import Any

from duragraph_lab.client.models import Event, Example, ExperimentResult, Span
from duragraph_lab.extras import require

#: ``pandas.DataFrame`` (pandas ships no type information: mypy sees Any).
DataFrame = Any

EVENT_COLUMNS = (
    "seq",
    "recorded_at",
    "stream",
    "run_id",
    "event_id",
    "type",
    "node",
    "task",
    "step",
    "attempt",
    "duration_ms",
    "data",
)
SPAN_COLUMNS = (
    "seq",
    "run_id",
    "ns",
    "node",
    "task",
    "step",
    "attempt",
    "status",
    "started_at",
    "ended_at",
    "duration_ms",
    "error",
    "input_tokens",
    "output_tokens",
)


#: pandas' default string dtype (pandas 3: Arrow-backed, missing values NaN).
_STR = "str"


def _pandas() -> Any:
    return require("pandas", "notebook", "DataFrames of event logs")


def _timestamps(pd: Any, values: list[Any]) -> Any:
    # Aware datetimes to nanosecond UTC (pandas 3 would otherwise pick microseconds).
    return pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")


def events_to_frame(events: Iterable[Event]) -> DataFrame:
    """One row per event, in the order given (the log's: by ``seq``)."""
    pd = _pandas()
    rows = list(events)
    frame = pd.DataFrame(
        {
            "seq": pd.Series([e.seq for e in rows], dtype="int64"),
            "recorded_at": _timestamps(pd, [e.recorded_at for e in rows]),
            "stream": pd.Series([e.stream for e in rows], dtype="category"),
            "run_id": pd.Series([e.run_id for e in rows], dtype=_STR),
            "event_id": pd.Series([e.event_id for e in rows], dtype=_STR),
            "type": pd.Series([e.type for e in rows], dtype="category"),
            "node": pd.Series([e.node for e in rows], dtype="category"),
            "task": pd.Series([e.task for e in rows], dtype=_STR),
            "step": pd.Series([e.step for e in rows], dtype="Int64"),
            "attempt": pd.Series([e.attempt for e in rows], dtype="Int64"),
            "duration_ms": pd.Series([e.duration_ms for e in rows], dtype="float64"),
            "data": pd.Series([e.data for e in rows], dtype="object"),
        },
        columns=list(EVENT_COLUMNS),
    )
    return frame


def spans_to_frame(spans: Iterable[Span]) -> DataFrame:
    """One row per node execution (one attempt of one task), in the order given."""
    pd = _pandas()
    rows = list(spans)
    frame = pd.DataFrame(
        {
            "seq": pd.Series([s.seq for s in rows], dtype="Int64"),
            "run_id": pd.Series([s.run_id for s in rows], dtype=_STR),
            "ns": pd.Series([s.ns for s in rows], dtype="category"),
            "node": pd.Series([s.node for s in rows], dtype="category"),
            "task": pd.Series([s.task for s in rows], dtype=_STR),
            "step": pd.Series([s.step for s in rows], dtype="int64"),
            "attempt": pd.Series([s.attempt for s in rows], dtype="int64"),
            "status": pd.Series([s.status for s in rows], dtype="category"),
            "started_at": _timestamps(pd, [s.started_at for s in rows]),
            "ended_at": _timestamps(pd, [s.ended_at for s in rows]),
            "duration_ms": pd.Series([s.duration_ms for s in rows], dtype="float64"),
            "error": pd.Series([s.error for s in rows], dtype=_STR),
            "input_tokens": pd.Series([s.input_tokens for s in rows], dtype="Int64"),
            "output_tokens": pd.Series([s.output_tokens for s in rows], dtype="Int64"),
        },
        columns=list(SPAN_COLUMNS),
    )
    return frame


def examples_to_frame(examples: Iterable[Example]) -> DataFrame:
    """One row per example of a dataset version: inputs and outputs as given (objects), the
    source run and what it cost."""
    pd = _pandas()
    rows = list(examples)
    return pd.DataFrame(
        {
            "example_id": pd.Series([e.example_id for e in rows], dtype=_STR),
            "index": pd.Series([e.index for e in rows], dtype="int64"),
            "inputs": pd.Series([e.inputs for e in rows], dtype=object),
            "outputs": pd.Series([e.outputs for e in rows], dtype=object),
            "run_id": pd.Series([e.run_id for e in rows], dtype=_STR),
            "status": pd.Series([(e.source or {}).get("status") for e in rows], dtype=_STR),
            "trajectory": pd.Series([e.trajectory for e in rows], dtype=object),
            "latency_ms": pd.Series([e.latency_ms for e in rows], dtype="float64"),
            "steps": pd.Series([e.steps for e in rows], dtype="Int64"),
            "metadata": pd.Series([e.metadata for e in rows], dtype=object),
        }
    )


def results_to_frame(results: Iterable[ExperimentResult]) -> DataFrame:
    """One row per example of an experiment: verdict, run, latency, steps, and per evaluator a
    ``score:<name>`` and a ``passed:<name>`` column."""
    pd = _pandas()
    rows = list(results)
    names = sorted({str(s.get("name")) for r in rows for s in r.scores})
    columns: dict[str, Any] = {
        "example_id": pd.Series([r.example_id for r in rows], dtype=_STR),
        "index": pd.Series([r.index for r in rows], dtype="int64"),
        "verdict": pd.Series([r.verdict for r in rows], dtype="category"),
        "status": pd.Series([r.status for r in rows], dtype="category"),
        "run_id": pd.Series([r.run_id for r in rows], dtype=_STR),
        "latency_ms": pd.Series([r.latency_ms for r in rows], dtype="float64"),
        "steps": pd.Series([r.steps for r in rows], dtype="Int64"),
        "error": pd.Series([r.error for r in rows], dtype=_STR),
        "outputs": pd.Series([r.outputs for r in rows], dtype=object),
    }
    for name in names:
        by_row = [{str(s.get("name")): s for s in r.scores}.get(name) or {} for r in rows]
        columns[f"score:{name}"] = pd.Series([s.get("score") for s in by_row], dtype="float64")
        columns[f"passed:{name}"] = pd.Series([s.get("passed") for s in by_row], dtype="boolean")
    return pd.DataFrame(columns)


#: How ``events_frame`` delivers each event's payload: ``"dict"`` (decoded, the default),
#: ``"json"`` (the JSON text, several times faster on big logs) or ``"none"`` (no ``data`` column).
PAYLOADS = ("dict", "json", "none")
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"


def _loads() -> Any:
    try:
        return importlib.import_module("orjson").loads
    except ImportError:
        return importlib.import_module("json").loads


def _decode_payloads(texts: Iterable[str]) -> list[Any]:
    # A million small dicts: the cyclic GC would walk the growing heap again and again.
    gc = importlib.import_module("gc")
    loads = _loads()
    enabled = gc.isenabled()
    gc.disable()
    try:
        return list(map(loads, texts))
    finally:
        if enabled:
            gc.enable()


class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a response body as it arrives)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def events_from_arrow(body: bytes, *, payload: str = "dict") -> DataFrame:
    """The frame of an Arrow IPC stream of events (``GET .../events.arrow``): the same columns
    and dtypes as :func:`events_to_frame`, built column by column."""
    return events_from_arrow_chunks([body], payload=payload)


def events_from_arrow_chunks(chunks: Iterable[bytes], *, payload: str = "dict") -> DataFrame:
    """:func:`events_from_arrow` over a body read as it arrives: each record batch's payloads
    are decoded while the next batches are still on their way (the server produces a big log
    for seconds; decoding a million payloads into dicts takes seconds too)."""
    if payload not in PAYLOADS:
        raise ValueError(f"payload must be one of {', '.join(PAYLOADS)}, not {payload!r}")
    # The cyclic GC stays off for the whole read, not just while each batch is decoded: its
    # collections between batches and while the frame is built walk the growing heap of the
    # payloads already decoded (a million payloads: ~10 million objects). One full collection
    # afterwards costs less than those.
    gc = importlib.import_module("gc")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _frame_from_arrow(chunks, payload)
    finally:
        if enabled:
            gc.enable()


def _frame_from_arrow(chunks: Iterable[bytes], payload: str) -> DataFrame:
    pd = _pandas()
    pa = require("pyarrow", "notebook", "DataFrames of event logs")
    reader = pa.ipc.open_stream(io.BufferedReader(_Chunks(chunks), buffer_size=1 << 20))
    batches, decoded = [], []
    for batch in reader:
        batches.append(batch)
        if payload == "dict":
            decoded += _decode_payloads(batch.column("data").to_numpy(zero_copy_only=False))
    table = pa.Table.from_batches(batches, schema=reader.schema)

    def strings(name: str) -> Any:
        # pandas' string dtype over the Arrow data itself: no Python object per value.
        dtype = pd.StringDtype("pyarrow", na_value=float("nan"))  # what "str" means
        return table.column(name).to_pandas(types_mapper={pa.string(): dtype}.get)

    def category(name: str) -> Any:
        column = table.column(name)
        if column.num_chunks != 1:
            column = column.combine_chunks()
        series = pd.Series(column.dictionary_encode().to_pandas(), dtype="category")
        # Sorted categories, as pandas makes them from values (frames compare equal).
        return series.cat.reorder_categories(sorted(series.cat.categories))

    def nullable_ints(name: str) -> Any:
        column = table.column(name)
        values = column.fill_null(0).to_numpy()
        mask = column.is_null().to_numpy()
        return pd.Series(pd.arrays.IntegerArray(values.astype("int64"), mask.astype(bool)), dtype="Int64")

    stream = category("stream")
    # run_id: read once per stream (a category), spread to the rows by the stream's codes.
    run_of_stream = [c.partition(":")[2] if c.startswith("run:") else None for c in stream.cat.categories]
    np = importlib.import_module("numpy")
    run_id = np.array([*run_of_stream, None], dtype="object")[stream.cat.codes.to_numpy()]
    columns: dict[str, Any] = {
        "seq": pd.Series(table.column("seq").to_numpy(), dtype="int64"),
        "recorded_at": pd.Series(
            table.column("recorded_at").cast(pa.timestamp("ns", tz="UTC")).to_pandas(),
            dtype="datetime64[ns, UTC]",
        ),
        "stream": stream,
        "run_id": pd.Series(run_id, dtype=_STR),
        "event_id": strings("event_id"),
        "type": category("type"),
        "node": category("node"),
        "task": strings("task"),
        "step": nullable_ints("step"),
        "attempt": nullable_ints("attempt"),
        "duration_ms": pd.Series(table.column("duration_ms").to_numpy(), dtype="float64"),
    }
    if payload == "dict":
        columns["data"] = pd.Series(decoded, dtype="object")
    elif payload == "json":
        columns["data"] = strings("data")
    names = [c for c in EVENT_COLUMNS if c in columns]
    return pd.DataFrame(columns, columns=names)
