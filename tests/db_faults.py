"""Database faults for tests, injected into a real PostgreSQL.

- ``install_faults`` + ``inject``: a trigger on ``duragraph.events`` that refuses matching inserts
  with a chosen SQLSTATE (a deadlock, a serialization failure, a cancelled statement, a full
  disk) for the first ``budget`` of them, and/or makes them slow. The budget is counted by a
  sequence, which a refused statement's rollback does not undo.
- ``AnswerDroppingProxy``: a TCP proxy in front of PostgreSQL that breaks a connection right
  after a chosen statement's answer comes back, without passing the answer on: the statement
  committed, and the client cannot know it (an outcome-unknown commit).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg

_FAULTS = """
CREATE TABLE fault_injection (
    event_type text NOT NULL DEFAULT 'node_completed',
    node       text,             -- NULL: any node
    stream_id  text,             -- NULL: any stream
    sqlstate   text,             -- NULL: no refusal, only the delay
    budget     bigint NOT NULL DEFAULT 0,
    delay      float NOT NULL DEFAULT 0
);
CREATE SEQUENCE fault_hits;
CREATE FUNCTION fault_inject() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM fault_injection LOOP
        IF NEW.type = f.event_type AND (f.node IS NULL OR NEW.data->>'node' = f.node)
           AND (f.stream_id IS NULL OR NEW.stream_id = f.stream_id) THEN
            IF f.delay > 0 THEN
                PERFORM pg_sleep(f.delay);
            END IF;
            IF f.sqlstate IS NOT NULL AND nextval('fault_hits') <= f.budget THEN
                RAISE EXCEPTION 'injected fault: SQLSTATE % on % of %', f.sqlstate, NEW.type, NEW.stream_id
                    USING ERRCODE = f.sqlstate;
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
CREATE TRIGGER fault_inject BEFORE INSERT ON duragraph.events FOR EACH ROW EXECUTE FUNCTION fault_inject();
"""


def _execute(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def install_faults(url: str) -> None:
    _execute(url, _FAULTS)


def inject(
    url: str,
    *,
    sqlstate: str | None = None,
    budget: int = 0,
    node: str | None = None,
    stream_id: str | None = None,
    delay: float = 0.0,
    event_type: str = "node_completed",
) -> None:
    _execute(
        url,
        "INSERT INTO fault_injection (event_type, node, stream_id, sqlstate, budget, delay) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (event_type, node, stream_id, sqlstate, budget, delay),
    )


def clear_faults(url: str) -> None:
    _execute(url, "DELETE FROM fault_injection")


def fault_hits(url: str) -> int:
    """How many matching inserts met a refusal check (refused while within the budget)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT last_value, is_called FROM fault_hits").fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


class AnswerDroppingProxy:
    """Forwards TCP connections to PostgreSQL at ``host:port``. After :meth:`drop_answer_to`,
    the next connection that sends a message containing ``marker`` is broken as soon as the
    answer arrives, and the answer is thrown away."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.dropped = 0
        self._markers: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, database_url: str) -> str:
        """``database_url`` (any form) going through this proxy."""
        assert self._server is not None
        params = psycopg.conninfo.conninfo_to_dict(database_url)
        params.update(host="127.0.0.1", port=str(self._server.sockets[0].getsockname()[1]))
        return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})

    def drop_answer_to(self, marker: bytes) -> None:
        self._markers.append(marker)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_w.close()
            self._pipes.discard(task)
            return
        doomed = asyncio.Event()
        up = asyncio.create_task(self._upstream(client_r, server_w, doomed))
        down = asyncio.create_task(self._downstream(server_r, client_w, doomed))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in (up, down):
                pipe.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            self._pipes.discard(task)

    async def _upstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, doomed: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            for marker in self._markers:
                if marker in data:
                    self._markers.remove(marker)
                    doomed.set()
                    break
            writer.write(data)
            await writer.drain()

    async def _downstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, doomed: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            if doomed.is_set():
                # PostgreSQL answers a statement once it has committed: this answer is lost.
                self.dropped += 1
                return
            writer.write(data)
            await writer.drain()
