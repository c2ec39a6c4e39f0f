"""Migration 0018: ``lg_blobs`` goes from one row per (channel, version) to one row per (version,
event); the events' ``(type, seq)`` index gives way to an index of the events that end a run,
which the trace export's search for ended runs uses."""

from __future__ import annotations

import psycopg
import pytest

from duragraph_lab.otel.spans import END_TYPES
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.schema import migrate
from tests.migrations import migrate_to_release_before


def test_rows_per_channel_become_rows_per_version(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = migrate_to_release_before(empty_database_url, "lean_step", monkeypatch)
    with psycopg.connect(empty_database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO duragraph.lg_blobs (thread_id, checkpoint_ns, channel, version, seq) VALUES (%s, %s, %s, %s, %s)",
            [
                ("t", "", "n", "01", 5),  # one step: three channels, one version, one event
                ("t", "", "branch:to:a", "01", 5),
                ("t", "", "text", "01", 5),
                ("t", "", "n", "02", 9),
                ("t", "", "text", "03", 12),  # one event, two versions
                ("t", "", "n", "04", 12),
                ("t", "sub:1", "n", "01", 14),
            ],
        )

    assert migrate(empty_database_url) == pending

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT thread_id, checkpoint_ns, version, seq FROM duragraph.lg_blobs ORDER BY seq, version"
        ).fetchall()
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'duragraph' AND tablename = 'events'"
            )
        }
    assert rows == [
        ("t", "", "01", 5),
        ("t", "", "02", 9),
        ("t", "", "03", 12),
        ("t", "", "04", 12),
        ("t", "sub:1", "01", 14),
    ]
    assert "events_type_seq_idx" not in indexes and "events_run_ends_idx" in indexes


async def test_the_search_for_ended_runs_reads_their_index(pg_store: PostgresEventStore) -> None:
    """read_all(types=...) writes plain type names into its statement, so that PostgreSQL can
    prove the index of run ends covers them (a parameter would leave it a scan of every event)."""
    async with pg_store.pool.connection() as conn:
        await conn.execute("SET enable_seqscan = off")  # an empty table: ask for the plan an index gives
        cur = await conn.execute(
            "EXPLAIN SELECT seq FROM duragraph.events WHERE seq > 0 AND type = ANY('{"
            + ",".join(sorted(END_TYPES))
            + "}'::text[]) AND stream_id LIKE ANY('{run:%}') ORDER BY seq LIMIT 10"
        )
        plan = "\n".join(r[0] for r in await cur.fetchall())
    assert "events_run_ends_idx" in plan, plan
    # And read_all gives what a filter of every event gives, for these types and for others.
    from duragraph_lab.domain.envelope import NewEvent

    await pg_store.append(
        "thread:00000000-0000-0000-0000-000000000001", None, [NewEvent("thread_created", {})]
    )
    assert await pg_store.read_all(types=sorted(END_TYPES)) == []
    assert [e.type for e in await pg_store.read_all(types=["thread_created"])] == ["thread_created"]
    assert [e.type for e in await pg_store.read_all(types=["it's"])] == []  # not plain: a parameter
