"""The relay's claim reads each claimed event by its primary key, whatever plan PostgreSQL caches
for it: a generic plan (what a statement psycopg prepared ends up with) that scans the events
table would make every relay pass cost as much as the whole log (store/outbox.py)."""

from __future__ import annotations

import json
import uuid

import psycopg

from duragraph_lab.store.outbox import _CLAIM


def _generic_plan(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    numbered = _CLAIM.replace("%s::bigint[]", "$1::bigint[]").replace("LIMIT %s", "LIMIT $2")
    rows = conn.execute(f"EXPLAIN (GENERIC_PLAN) {numbered}").fetchall()
    return "\n".join(str(r[0]) for r in rows)


def test_the_claim_probes_events_by_key_on_a_fresh_and_on_a_filled_database(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        fresh = _generic_plan(conn)  # no rows, no statistics: the case that went wrong
        assert "Seq Scan on events" not in fresh, fresh
        assert "Index Scan using events_pkey on events" in fresh, fresh
        for _ in range(20):
            events = [{"event_id": str(uuid.uuid4()), "type": "note", "data": {"i": i}} for i in range(100)]
            conn.execute(
                "SELECT duragraph.append_events(%s, 'thread', NULL, %s::jsonb)",
                (f"thread:{uuid.uuid4()}", json.dumps(events)),
            )
        conn.execute("DELETE FROM duragraph.outbox WHERE seq < (SELECT max(seq) - 5 FROM duragraph.outbox)")
        conn.execute("ANALYZE duragraph.events, duragraph.outbox")
        filled = _generic_plan(conn)
        assert "Seq Scan on events" not in filled, filled
        # And it claims what it should: the oldest rows left, in order, but those published.
        rows = conn.execute(_CLAIM, ([], 10)).fetchall()
        left = [r[0] for r in conn.execute("SELECT seq FROM duragraph.outbox ORDER BY seq").fetchall()]
        assert [r[0] for r in rows] == left and len(left) == 6
        assert [r[0] for r in conn.execute(_CLAIM, (left[:2], 3)).fetchall()] == left[2:5]
