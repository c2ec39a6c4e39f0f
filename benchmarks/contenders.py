"""The other durable engines, run the same way in the same process: LangGraph + PostgresSaver and DBOS.

Each contender is optional (``pip install duragraph-lab[bench]``); :func:`missing` says why one
cannot run. Both write to the suite's one PostgreSQL server: LangGraph's checkpoint tables in
their own database, DBOS's system database in another (DBOS creates it).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import time
import uuid
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PACKAGES = {
    "langgraph": ("langgraph", "langgraph-checkpoint-postgres"),
    "dbos": ("dbos",),
}


def missing(name: str) -> str | None:
    """Why contender ``name`` cannot run here (a package not installed), or None."""
    for package in PACKAGES[name]:
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return f"{package} is not installed (pip install 'duragraph-lab[bench]')"
    return None


def versions() -> dict[str, str]:
    out = {}
    for package in (
        "langgraph",
        "langgraph-checkpoint",
        "langgraph-checkpoint-postgres",
        "dbos",
        "sqlalchemy",
        "psycopg",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[package] = importlib.metadata.version(package)
    return out


def database_url(url: str, dbname: str) -> str:
    """``url`` with another database name, which is created if missing."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def sqlalchemy_url(url: str) -> str:
    """A libpq URL/conninfo as an SQLAlchemy URL (unix socket directory as ``host`` query)."""
    p = conninfo_to_dict(url)
    return (
        f"postgresql://{p['user']}:{p.get('password', '')}@/{p['dbname']}?host={p['host']}&port={p['port']}"
    )


# -- LangGraph + PostgresSaver ------------------------------------------------------------------


class LangGraphContender:
    """LangGraph graphs checkpointed by ``AsyncPostgresSaver`` with ``durability="sync"``: the
    checkpoint of every step is committed before the next step starts."""

    name = "LangGraph + PostgresSaver"

    def __init__(self, url: str, pool_size: int = 20) -> None:
        self.url = database_url(url, "langgraph_bench")
        self.pool_size = pool_size
        self._pool: Any = None
        self.saver: Any = None
        self._graphs: dict[str, Any] = {}

    async def start(self) -> None:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(
            self.url,
            min_size=2,
            max_size=self.pool_size,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await self._pool.open()
        self.saver = AsyncPostgresSaver(self._pool)
        await self.saver.setup()

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    def _linear(self, steps: int) -> Any:
        key = f"linear{steps}"
        if key not in self._graphs:
            from benchmarks.lg_graphs import linear

            self._graphs[key] = linear(steps).compile(checkpointer=self.saver)
        return self._graphs[key]

    def _chat(self) -> Any:
        if "chat" not in self._graphs:
            from benchmarks.lg_graphs import chat

            self._graphs["chat"] = chat().compile(checkpointer=self.saver)
        return self._graphs["chat"]

    async def run_linear(self, steps: int) -> float:
        """One run of a ``steps``-node linear graph; seconds, wall clock."""
        graph = self._linear(steps)
        config = {"configurable": {"thread_id": str(uuid.uuid4())}, "recursion_limit": steps + 10}
        begin = time.perf_counter()
        out = await graph.ainvoke({"n": 0}, config, durability="sync")
        elapsed = time.perf_counter() - begin
        assert out["n"] == steps, out
        return elapsed

    async def throughput(self, runs: int, steps: int, concurrency: int) -> float:
        """``runs`` runs of a ``steps``-node graph, ``concurrency`` at a time; seconds."""
        graph = self._linear(steps)
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                config = {"configurable": {"thread_id": str(uuid.uuid4())}, "recursion_limit": steps + 10}
                out = await graph.ainvoke({"n": 0}, config, durability="sync")
                assert out["n"] == steps

        begin = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs)))
        return time.perf_counter() - begin

    async def conversation(self, messages: int) -> str:
        """A ``messages``-step conversation (each step appends a message); its thread id."""
        thread_id = str(uuid.uuid4())
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": messages + 10}
        out = await self._chat().ainvoke({"messages": [], "limit": messages}, config, durability="sync")
        assert len(out["messages"]) == messages
        return thread_id

    TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations")

    def storage(self, thread_id: str) -> dict[str, Any]:
        """On-disk size of the checkpoint tables, and the bytes of this thread's rows."""
        with psycopg.connect(self.url) as conn:
            total = sum(
                int(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0])  # type: ignore[index]
                for t in self.TABLES
            )
            by_table = {
                t: int(
                    conn.execute(
                        f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {t} t WHERE thread_id = %s",
                        (thread_id,),
                    ).fetchone()[0]  # type: ignore[index]
                )
                for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
            }
        return {"on_disk": total, "rows": sum(by_table.values()), "rows_by_table": by_table}


# -- DBOS ------------------------------------------------------------------------------------------

_DBOS_STEPS: dict[str, Any] = {}


class DBOSContender:
    """DBOS workflows: one ``@DBOS.step`` per node, each step's output recorded in DBOS's system
    database before the next step runs."""

    name = "DBOS"

    def __init__(self, url: str) -> None:
        self.url = database_url(url, "dbos_bench")
        self.dbos: Any = None

    async def start(self) -> None:
        from dbos import DBOS

        @DBOS.step()
        async def step(n: int) -> int:
            return n + 1

        @DBOS.workflow()
        async def linear(steps: int) -> int:
            n = 0
            for _ in range(steps):
                n = await step(n)
            return n

        _DBOS_STEPS["linear"] = linear
        self.dbos = DBOS(
            config={
                "name": "duragraph-bench",
                "system_database_url": sqlalchemy_url(self.url),
                "sys_db_pool_size": 20,
                "log_level": "WARNING",
                "console_log_level": "WARNING",
            }
        )
        await asyncio.to_thread(DBOS.launch)

    async def stop(self) -> None:
        from dbos import DBOS

        if self.dbos is not None:
            await asyncio.to_thread(DBOS.destroy, destroy_registry=True)

    async def run_linear(self, steps: int) -> float:
        from dbos import DBOS

        begin = time.perf_counter()
        handle = await DBOS.start_workflow_async(_DBOS_STEPS["linear"], steps)
        n = await handle.get_result()
        elapsed = time.perf_counter() - begin
        assert n == steps
        return elapsed

    async def throughput(self, runs: int, steps: int, concurrency: int) -> float:
        from dbos import DBOS

        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                handle = await DBOS.start_workflow_async(_DBOS_STEPS["linear"], steps)
                assert await handle.get_result() == steps

        begin = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs)))
        return time.perf_counter() - begin
