"""The PostgreSQL event store."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import psycopg
import psycopg_pool

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import DuplicateEvent, InvalidEvent, ReadModelConflict, VersionConflict
from duragraph_lab.domain.streams import StreamId, StreamKind
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.connection import unavailable_as_typed
from duragraph_lab.store.group_commit import GroupCommit, RunAppend
from duragraph_lab.store.port import AfterCommit
from duragraph_lab.store.step_rows import TO_COMPUTE, ToCompute, step_rows
from duragraph_lab.store.validation import (
    EncodedAppend,
    UnitOfWorkAborted,
    check_append,
    decoded,
    encode_append,
)

log = logging.getLogger(__name__)

EVENT_COLUMNS = "seq, stream_id, version, event_id, type, data, meta, recorded_at"
_CONFLICT_SQLSTATE = "DG409"
_LEASE_LOST_SQLSTATE = "DG423"
_APPEND = "SELECT seq, version, recorded_at FROM duragraph.append_events(%s, %s, %s, %s::jsonb)"
_APPEND_FENCED = (
    "SELECT seq, version, recorded_at FROM duragraph.append_run_events(%s, %s, %s::jsonb, %s, %s, %s::jsonb)"
)

#: An event type that may be written into a statement as it is (see read_all).
_PLAIN_TYPE = re.compile(r"[a-z][a-z0-9_]*")

#: (worker id, lease epoch): an append that must be refused unless the worker still holds the run.
Lease = tuple[str, int]


def row_to_event(row: Sequence[Any]) -> RecordedEvent:
    seq, stream_id, version, event_id, type_, data, meta, recorded_at = row
    return RecordedEvent(seq, stream_id, version, event_id, type_, data, meta, recorded_at)


class PgUnitOfWork:
    """A transaction on one pooled connection. ``conn`` is exposed for guard statements
    (e.g. lease fencing) that must commit or fail together with the appends. The read models
    follow in the same transaction: the events trigger projects each appended event
    (:mod:`duragraph_lab.store.projections`)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.recorded: list[RecordedEvent] = []
        self._failed: BaseException | None = None

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        *,
        lease: Lease | None = None,
        encoding: EncodedAppend | None = None,
        rows: str | ToCompute | None = TO_COMPUTE,
    ) -> list[RecordedEvent]:
        """Append ``events``. ``encoding``: theirs, from a caller that checked this append
        (:func:`~duragraph_lab.store.validation.check_append`) and encoded its events
        (:func:`~duragraph_lab.store.validation.encode_append`) already: neither is done again.
        ``rows``: a leased append's read-model rows (:func:`~duragraph_lab.store.step_rows.step_rows`),
        when the caller computed them already."""
        if self._failed is not None:
            raise UnitOfWorkAborted(self._failed)
        try:
            return await self._append(stream_id, expected_version, events, lease, encoding, rows)
        except (VersionConflict, DuplicateEvent, ReadModelConflict, LeaseLost, psycopg.Error) as err:
            # PostgreSQL has aborted the transaction; say so instead of InFailedSqlTransaction.
            self._failed = err
            raise

    async def hold(self, stream_id: str) -> int:
        """The stream's version (0: no such stream), its row share-locked until the transaction
        ends: an append to the stream (which locks that row) waits for our commit."""
        cur = await self.conn.execute(
            "SELECT version FROM duragraph.streams WHERE stream_id = %s FOR SHARE", (stream_id,)
        )
        row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    async def _append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        lease: Lease | None,
        encoding: EncodedAppend | None,
        rows: str | ToCompute | None,
    ) -> list[RecordedEvent]:
        if encoding is None:
            parsed = check_append(stream_id, expected_version, events)
            encoding = encode_append(events)
        else:
            parsed = StreamId.parse(stream_id)
        encoded, texts, payload = encoding.encoded, encoding.texts, encoding.payload
        if lease is not None and parsed.kind is not StreamKind.RUN:
            raise InvalidEvent(f"only run streams are leased, not {stream_id}")
        sql: str
        params: tuple[Any, ...]
        if lease is None:
            sql, params = _APPEND, (str(parsed), parsed.kind.value, expected_version, payload)
        else:
            if isinstance(rows, ToCompute):
                rows = step_rows(str(parsed.id), encoded)
            sql, params = _APPEND_FENCED, (parsed.id, expected_version, payload, lease[0], lease[1], rows)
        try:
            cur = await self.conn.execute(sql, params)
        except psycopg.errors.UniqueViolation as err:
            if err.diag.constraint_name == "events_event_id_key":
                raise DuplicateEvent(_duplicate_id(err, events)) from None
            # A projection's uniqueness rule (a dataset name taken): the append is refused whole.
            raise ReadModelConflict(
                err.diag.message_detail or err.diag.message_primary or str(err),
                constraint=err.diag.constraint_name or "?",
            ) from err
        except psycopg.Error as err:
            if err.sqlstate == _CONFLICT_SQLSTATE:
                actual = int(err.diag.message_detail or 0)
                raise VersionConflict(str(parsed), expected_version, actual) from None
            if err.sqlstate == _LEASE_LOST_SQLSTATE:
                raise LeaseLost(err.diag.message_primary or f"lease of {stream_id} lost") from None
            raise
        written = await cur.fetchall()
        canonical = str(parsed)  # once, not per event (a UUID's text is built in Python)
        recorded = [
            RecordedEvent(
                seq=seq,
                stream_id=canonical,
                version=version,
                event_id=event.event_id,
                type=event.type,
                # What a reader will get back: decoded copies that share nothing with the caller.
                data=decoded(enc["data"], text[0]),
                meta=decoded(enc["meta"], text[1]),
                recorded_at=recorded_at,
                json_text=text,
            )
            for (seq, version, recorded_at), event, enc, text in zip(
                written, events, encoded, texts, strict=True
            )
        ]
        self.recorded.extend(recorded)
        return recorded


def _duplicate_id(err: psycopg.Error, events: Sequence[NewEvent]) -> str:
    detail = err.diag.message_detail or ""
    for event in events:
        if str(event.event_id) in detail:
            return str(event.event_id)
    return detail or "?"


class PostgresEventStore:
    """Event store on a psycopg async pool (see :func:`duragraph_lab.store.connection.open_pool`).

    With ``group_commit`` (the default), leased appends to run streams (a worker's commits) made
    concurrently are written together, one statement and one commit for many runs (see
    :mod:`duragraph_lab.store.group_commit`); each still succeeds or fails on its own."""

    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool,
        *,
        group_commit: bool = True,
    ) -> None:
        self.pool = pool
        self._after_commit: list[AfterCommit] = []
        self.group = GroupCommit(pool, self._append_alone, self._fire_after_commit) if group_commit else None

    def add_after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgUnitOfWork]:
        async with unavailable_as_typed(), self.pool.connection() as conn:
            uow = PgUnitOfWork(conn)
            async with conn.transaction():
                yield uow
        if uow.recorded:
            self._fire_after_commit(uow.recorded)

    def _fire_after_commit(self, recorded: Sequence[RecordedEvent]) -> None:
        for callback in self._after_commit:
            try:
                callback(recorded)
            except Exception:  # a wake-up hint must never fail a committed append
                log.exception("after-commit callback %r failed", callback)

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        *,
        lease: Lease | None = None,
    ) -> list[RecordedEvent]:
        """Append in a transaction of its own. With ``lease``, only while that worker still holds
        the run at that epoch (``LeaseLost`` otherwise, nothing written)."""
        if lease is not None and self.group is not None:
            parsed = check_append(stream_id, expected_version, events)
            if parsed.kind is not StreamKind.RUN:
                raise InvalidEvent(f"only run streams are leased, not {stream_id}")
            encoding = encode_append(events)
            run_id = str(parsed.id)
            return await self.group.append(
                RunAppend(
                    run_id,
                    expected_version,
                    events,
                    encoding.encoded,
                    encoding.payload,
                    lease[0],
                    lease[1],
                    encoding.texts,
                    step_rows(run_id, encoding.encoded),
                )
            )
        # The append is one statement (read models included), and a lone statement on an
        # autocommit connection is atomic on its own: one round trip instead of three.
        async with unavailable_as_typed(), self.pool.connection() as conn:
            recorded = await PgUnitOfWork(conn).append(stream_id, expected_version, events, lease=lease)
        self._fire_after_commit(recorded)
        return recorded

    async def _append_alone(self, item: RunAppend) -> list[RecordedEvent]:
        """A run append of its own (a group commit that failed as a whole retries each this way)."""
        lease = (
            (item.worker_id, item.epoch) if item.worker_id is not None and item.epoch is not None else None
        )
        # The caller encoded the events already (PostgresEventStore.append): not again.
        encoding = EncodedAppend(item.encoded, item.texts, item.payload) if item.texts is not None else None
        async with unavailable_as_typed(), self.pool.connection() as conn:
            recorded = await PgUnitOfWork(conn).append(
                item.stream_id,
                item.expected_version,
                item.events,
                lease=lease,
                encoding=encoding,
                rows=item.rows,
            )
        self._fire_after_commit(recorded)
        return recorded

    async def _query(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a read. Reads are idempotent, so one that hits a connection which died since its
        last use (server restart, killed backend) is retried once on a fresh connection."""
        async with unavailable_as_typed():
            for attempt in (1, 2):
                conn: psycopg.AsyncConnection[Any] | None = None
                try:
                    async with self.pool.connection() as conn:
                        cur = await conn.execute(sql, params)
                        return await cur.fetchall()
                except psycopg.OperationalError:
                    # No connection at all (the pool timed out, or the database is known to be
                    # down: PoolTimeout is an OperationalError) leaves nothing to retry on.
                    if attempt == 2 or conn is None or not conn.broken:
                        raise
            raise AssertionError("unreachable")

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[RecordedEvent]:
        return [row_to_event(r) for r in await self._query(sql, params)]

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events "
            "WHERE stream_id = %s AND version > %s AND seq > %s ORDER BY version"
        )
        params: list[Any] = [stream_id, after_version, after_seq]
        if until_seq is not None:
            # Version order is seq order within a stream: the index on (stream_id, version) stops
            # reading at the first event past until_seq.
            sql = sql.replace(" ORDER BY version", " AND seq <= %s ORDER BY version")
            params.append(until_seq)
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return await self._fetch(sql, params)

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[RecordedEvent]:
        where = ["seq > %s"]
        params: list[Any] = [after_seq]
        if until_seq is not None:
            where.append("seq <= %s")
            params.append(until_seq)
        if types is not None:
            if all(_PLAIN_TYPE.fullmatch(t) for t in types):
                # Written into the statement: PostgreSQL then uses an index of those types only
                # (migration 0018: the events that end a run), which a parameter would not let it.
                where.append("type = ANY('{" + ",".join(types) + "}'::text[])")
            else:
                where.append("type = ANY(%s)")
                params.append(list(types))
        if kinds is not None:
            where.append("stream_id LIKE ANY(%s)")
            params.append([f"{k}:%" for k in kinds])
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE {' AND '.join(where)} ORDER BY seq LIMIT %s"
        )
        params.append(limit)
        return await self._fetch(sql, params)

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._query("SELECT version FROM duragraph.streams WHERE stream_id = %s", (stream_id,))
        return int(rows[0][0]) if rows else 0

    async def last_seq(self) -> int:
        rows = await self._query("SELECT coalesce(max(seq), 0) FROM duragraph.events", ())
        return int(rows[0][0])
