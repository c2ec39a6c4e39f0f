"""Migration 0017: ``lg_writes`` goes from one row per write to one row per event holding a
task's writes. A database of the release before, with rows in the old form, keeps a row for
every event that won a write (the reader decides which write counts, from the events)."""

from __future__ import annotations

import psycopg
import pytest

from duragraph_lab.store.schema import migrate
from tests.migrations import migrate_to_release_before


def test_rows_per_write_become_rows_per_event(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = migrate_to_release_before(empty_database_url, "lg_writes_per_event", monkeypatch)
    with psycopg.connect(empty_database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO duragraph.lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, seq, position) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                ("t", "", "c1", "task-a", 0, 5, 0),  # one event, two writes
                ("t", "", "c1", "task-a", 1, 5, 1),
                ("t", "", "c1", "task-a", 2, 8, 0),  # a later event of the same task
                ("t", "", "c1", "task-b", -3, 9, 0),
                ("t", "sub:1", "c2", "task-c", 0, 12, 0),
            ],
        )

    assert migrate(empty_database_url) == pending

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, seq FROM duragraph.lg_writes ORDER BY seq"
        ).fetchall()
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'duragraph' AND table_name = 'lg_writes' ORDER BY ordinal_position"
            )
        ]
    assert rows == [
        ("t", "", "c1", "task-a", 5),
        ("t", "", "c1", "task-a", 8),
        ("t", "", "c1", "task-b", 9),
        ("t", "sub:1", "c2", "task-c", 12),
    ]
    assert columns == ["thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "seq"]
