"""A worker's step writes its read models in its append (migration 0019, store/step_rows.py):
exactly the appends :func:`step_rows` accepts leave the events trigger out, and what they write
equals what the projections make of the same events (a rebuild replays those)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

import psycopg
import pytest

from duragraph_lab.control.run_creation import RunCommand
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.store.step_rows import step_rows
from tests.integration.test_projections import READ_MODELS, assert_same, rebuild, snapshot
from tests.integration.test_worker import Stack, asking, chain, stack  # noqa: F401 (the fixture)

pytest.importorskip("langgraph")
from duragraph_lab.worker.serve import load_graph

#: Counts, per event, the step events the trigger was queued for (its condition as migration 0019
#: has it): the ones whose append did not write their rows itself.
_WITNESS = """
CREATE TABLE public.projected_by_trigger (seq bigint PRIMARY KEY);
CREATE FUNCTION public.witness() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.projected_by_trigger VALUES (NEW.seq);
    RETURN NULL;
END $$;
CREATE TRIGGER witness AFTER INSERT ON duragraph.events FOR EACH ROW
    WHEN (current_setting('duragraph.step_rows', true) IS DISTINCT FROM 'written')
    EXECUTE FUNCTION public.witness();
"""


async def _mix(served: Stack) -> list[str]:
    """Native and LangGraph runs: a chain, an interrupt resumed, Send map-reduce, a subgraph,
    LangGraph retries (node_failed: projected by the trigger). Their run ids."""
    await served.worker(
        chain(5),
        asking(),
        load_graph("tests.lg_graphs:map_reduce"),
        load_graph("tests.lg_graphs:nested"),
        load_graph("tests.lg_graphs:flaky"),
    )
    runs = served.control.runs
    done = []
    for graph, given in (("chain", {"n": 0}), ("lg_flaky", {"topic": str(uuid.uuid4()), "fail": 2})):
        ref = await runs.create_run(graph, given)
        assert (await runs.wait(ref.run_id, 30)).status is RunStatus.SUCCESS
        done.append(ref.run_id)
    ref = await runs.create_run("asking", {})
    assert (await runs.wait(ref.run_id, 30)).status is RunStatus.INTERRUPTED
    await runs.resume(ref.run_id, "yes")
    assert (await runs.wait(ref.run_id, 30)).status is RunStatus.SUCCESS
    done.append(ref.run_id)
    mix = [("lg_map_reduce", {"topic": f"rows {i}"}) for i in range(3)] + [("lg_nested", {"topic": "rows"})]
    for graph, given in mix:
        first = await runs.create_run(graph, given)
        assert (await runs.wait(first.run_id, 30)).status is RunStatus.INTERRUPTED
        again = await runs.create_run(
            graph, None, thread_id=first.thread_id, command=RunCommand(resume="yes", has_resume=True)
        )
        assert (await runs.wait(again.run_id, 30)).status is RunStatus.SUCCESS
        done += [first.run_id, again.run_id]
    return done


async def test_a_workers_steps_write_their_read_models_as_the_projections_would(
    stack: Stack,  # noqa: F811 (the fixture)
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(_WITNESS)
    runs = await _mix(stack)

    with psycopg.connect(database_url) as conn:
        # Each transaction's events of each stream: one append (a group commit writes several
        # runs' appends in one transaction).
        appends: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for row in conn.execute(
            "SELECT xmin::text, stream_id, seq, type, data::text FROM duragraph.events "
            "WHERE stream_id LIKE 'run:%%' ORDER BY seq"
        ).fetchall():
            appends[(row[0], row[1])].append(row)
        witnessed = {seq for (seq,) in conn.execute("SELECT seq FROM public.projected_by_trigger").fetchall()}
        fast = slow = 0
        for (_, stream), events in appends.items():
            encoded = [{"type": t, "data": json.loads(d)} for _, _, _, t, d in events]
            seqs = {e[2] for e in events}
            if step_rows(stream.removeprefix("run:"), encoded) is not None:
                fast += 1
                assert not seqs & witnessed, f"an append of {[e[3] for e in events]} went through the trigger"
            else:
                # Projected by the trigger (whether rightly so, the rebuild below tells).
                slow += 1
                assert seqs & witnessed
        # The LangGraph steps took the append's rows; a run's end, a failed attempt, a native
        # step took the trigger.
        assert fast >= 8 and slow >= 3, (fast, slow)
        assert {
            str(r) for (r,) in conn.execute("SELECT DISTINCT run_id FROM duragraph.spans").fetchall()
        } >= {str(r) for r in runs}
        lg = conn.execute(
            "SELECT count(*) FROM duragraph.lg_checkpoints WHERE run_id IS NOT NULL AND checkpoint_ns <> ''"
        ).fetchone()
        assert lg is not None and lg[0] > 0  # the subgraph's checkpoints, under their namespace

    with psycopg.connect(database_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        live = snapshot(conn)
        assert all(live[t] for t in ("runs", "spans", "lg_checkpoints", "lg_writes", "lg_blobs"))
        assert rebuild(conn) > 0
        assert_same(snapshot(conn), live, READ_MODELS)
        conn.rollback()


def _append_sql(conn: psycopg.Connection[Any], run: str, expected: int, events: list[dict[str, Any]]) -> None:
    rows = step_rows(run, events)
    assert rows is not None
    conn.execute(
        "SELECT * FROM duragraph.append_run_events(%s, %s, %s::jsonb, NULL, NULL, %s::jsonb)",
        (run, expected, json.dumps(events), rows),
    )


def _completed(run: str, task: str, step: int) -> dict[str, Any]:
    """A LangGraph task's completion, its writes inside (store/step_rows.py takes those)."""
    writes = {"thread_id": f"t-{run}", "checkpoint_id": "c0", "writes": [[0, "n", "plain", 1]]}
    data = {
        "task": task,
        "node": "n",
        "step": step,
        "attempt": 1,
        "started_at": 1.5,
        "finished_at": 2.25,
        "langgraph_writes": writes,
    }
    return {"event_id": str(uuid.uuid4()), "type": "node_completed", "data": data}


async def test_what_follows_in_the_same_transaction_is_projected_by_the_trigger(
    pg_store: PostgresEventStore, database_url: str
) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        for run in (first, second):
            conn.execute(
                "SELECT * FROM duragraph.append_events(%s, 'run', 0, %s::jsonb)",
                (
                    f"run:{run}",
                    json.dumps(
                        [
                            {
                                "event_id": str(uuid.uuid4()),
                                "type": "run_created",
                                "data": {"thread_id": str(uuid.uuid4()), "graph_id": "g"},
                            }
                        ]
                    ),
                ),
            )
        conn.commit()
        _append_sql(conn, first, 1, [_completed(first, "a", 0)])
        # The same transaction, the general append: its event is projected by the trigger.
        conn.execute(
            "SELECT * FROM duragraph.append_events(%s, 'run', 1, %s::jsonb)",
            (f"run:{second}", json.dumps([_completed(second, "b", 0)])),
        )
        conn.commit()
        spans = conn.execute(
            "SELECT run_id::text, task, step, started_at, ended_at FROM duragraph.spans ORDER BY task"
        ).fetchall()
        assert [(r, t, s) for r, t, s, _, _ in spans] == [(first, "a", 0), (second, "b", 0)]
        assert spans[0][3:] == spans[1][3:]  # the same clock readings, the same timestamps
        writes = conn.execute(
            "SELECT thread_id, task_id FROM duragraph.lg_writes ORDER BY task_id"
        ).fetchall()
        assert writes == [(f"t-{first}", "a"), (f"t-{second}", "b")]
        assert conn.execute("SELECT current_setting('duragraph.step_rows', true)").fetchone() in [
            (None,),
            ("",),
        ]
