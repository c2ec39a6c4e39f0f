"""Which server runs an experiment: a PostgreSQL advisory lock per experiment, held on a
connection of its own for as long as that server executes it (the lock goes with the connection
when the server dies). Implements :class:`duragraph_lab.control.experiment_runner.ExperimentLocks`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg

#: First key of the advisory lock a server holds while it runs an experiment ("DG" + 1); the
#: second is hashtext(experiment_id). The experiments read model reads pg_locks for it.
EXPERIMENT_LOCK_CLASS = 0x44_47_01


class PgExperimentLocks:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @contextlib.asynccontextmanager
    async def hold(self, experiment_id: str) -> AsyncIterator[bool]:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            row = await (
                await conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (EXPERIMENT_LOCK_CLASS, experiment_id)
                )
            ).fetchone()
            yield bool(row and row[0])
