"""``GET /runs/{run_id}/events.arrow`` and ``GET /threads/{thread_id}/events.arrow``: a run's (a
thread's) event log in bulk, as an Arrow IPC stream (see :mod:`duragraph_lab.api.eventlog`);
``GET /runs/{run_id}/events.parquet``: the same columns as one Parquet file (the dashboard's export)."""

from __future__ import annotations

import asyncio
import importlib
import logging

from tornado import iostream, web

from duragraph_lab.api import eventlog
from duragraph_lab.api.handlers.base import DuraGraphHandler

log = logging.getLogger(__name__)


class _EventLogArrowHandler(DuraGraphHandler):
    async def _send(self, *, run_id: str | None = None, thread_id: str | None = None) -> None:
        after = self.query_int("after", 0, high=2**62)
        compression = self.query_choice("compression", eventlog.COMPRESSIONS, eventlog.COMPRESSION or "none")
        event_log = self.backend.event_log_or_fail()
        # Everything that can fail with a JSON error is checked before the first byte is sent.
        streams = await self.call(event_log.streams_of(run_id=run_id, thread_id=thread_id))
        self.set_header("Content-Type", eventlog.MEDIA_TYPE)
        self.set_header("Cache-Control", "no-store")
        body = eventlog.arrow_stream(
            event_log, streams, after=after, compression=None if compression == "none" else compression
        )
        try:
            async for chunk in body:
                if chunk:
                    self.write(chunk)
                    await self.flush()
        except iostream.StreamClosedError:
            return  # the client went away
        except Exception:
            # Headers are sent: the client sees a truncated stream (no end-of-stream marker).
            log.exception("DuraGraph Lab: event log stream of %s failed", run_id or thread_id)
            self.request.connection.close()  # type: ignore[union-attr]
            return
        finally:
            await body.aclose()
        self.finish()


class RunEventsArrowHandler(_EventLogArrowHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        await self._send(run_id=run_id)


class ThreadEventsArrowHandler(_EventLogArrowHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        await self._send(thread_id=thread_id)


class RunEventsParquetHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        after = self.query_int("after", 0, high=2**62)
        event_log = self.backend.event_log_or_fail()
        streams = await self.call(event_log.streams_of(run_id=run_id))
        chunks: list[bytes] = []
        body = eventlog.arrow_stream(event_log, streams, after=after)
        try:
            async for chunk in body:
                chunks.append(chunk)
        finally:
            await body.aclose()
        data = await asyncio.to_thread(_parquet, b"".join(chunks))
        self.set_header("Content-Disposition", f'attachment; filename="run-{run_id}-events.parquet"')
        self.set_header("Cache-Control", "no-store")
        self.finish(data, set_content_type="application/vnd.apache.parquet")


def _parquet(ipc: bytes) -> bytes:
    pa = importlib.import_module("pyarrow")
    pq = importlib.import_module("pyarrow.parquet")
    table = pa.ipc.open_stream(pa.py_buffer(ipc)).read_all()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())
