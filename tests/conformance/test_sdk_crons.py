"""Crons through the official ``langgraph-sdk`` (``client.crons.*``), async and sync, against a
real ``duragraph-lab serve``: create (stateless and on a thread), search, count, update, delete,
a seconds schedule that fires and whose runs complete, and what the SDK gets for bad input
(a 4xx, and nothing written)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError

from tests.api_cases import Database
from tests.apiserver import ApiServer

GRAPH = "slow"
#: Never fires while a test runs (1 January, midnight).
YEARLY = "0 0 1 1 *"


def tag() -> dict[str, str]:
    """Metadata of this test's own (the server is shared by the session)."""
    return {"test": uuid.uuid4().hex}


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@pytest.mark.sdk("crons.count", "crons.create", "crons.delete", "crons.search", "crons.update")
async def test_create_search_count_update_delete(client: LangGraphClient) -> None:
    meta = tag()
    end = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    cron = await client.crons.create(
        GRAPH,
        schedule="0 9 * * *",
        input={"n": 1},
        metadata=meta,
        end_time=end,
        timezone=ZoneInfo("America/New_York"),
        webhook="https://example.com/hook",
        multitask_strategy="enqueue",
    )
    cron_id = cron["cron_id"]
    assert cron["thread_id"] is None and cron["on_run_completed"] == "delete"
    assert cron["schedule"] == "0 9 * * *" and cron["timezone"] == "America/New_York"
    assert cron["enabled"] is True and cron["metadata"] == meta
    assert _at(cron["end_time"]) == end
    assert cron["payload"]["input"] == {"n": 1}
    assert cron["payload"]["webhook"] == "https://example.com/hook"
    assert cron["payload"]["multitask_strategy"] == "enqueue"
    # 9 in the morning in New York, in the future.
    following = _at(cron["next_run_date"])
    assert following > dt.datetime.now(dt.UTC)
    local = following.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute, local.second) == (9, 0, 0)

    [found] = await client.crons.search(metadata=meta)
    assert found == cron
    assert await client.crons.count(metadata=meta) == 1
    assert await client.crons.search(metadata=meta, enabled=False) == []
    assert [c["cron_id"] for c in await client.crons.search(assistant_id=GRAPH, metadata=meta)] == [cron_id]
    assert await client.crons.search(assistant_id="chat", metadata=meta) == []
    selected = await client.crons.search(metadata=meta, select=["cron_id", "schedule"])
    assert selected == [{"cron_id": cron_id, "schedule": "0 9 * * *"}]

    updated = await client.crons.update(
        cron_id, schedule="30 10 * * *", enabled=False, input={"n": 2}, end_time=None
    )
    assert updated["schedule"] == "30 10 * * *" and updated["enabled"] is False
    assert updated["end_time"] is None and updated["payload"]["input"] == {"n": 2}
    assert updated["payload"]["webhook"] == "https://example.com/hook"  # not sent: unchanged
    local = _at(updated["next_run_date"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (10, 30)
    assert await client.crons.search(metadata=meta, enabled=True) == []
    assert await client.crons.count(metadata=meta) == 1

    await client.crons.delete(cron_id)
    assert await client.crons.search(metadata=meta) == []
    assert await client.crons.count(metadata=meta) == 0
    with pytest.raises(NotFoundError):
        await client.crons.delete(cron_id)
    with pytest.raises(NotFoundError):
        await client.crons.update(cron_id, enabled=True)


@pytest.mark.sdk(
    "crons.count",
    "crons.create_for_thread",
    "crons.delete",
    "crons.search",
    "crons.update",
    "threads.create",
)
def test_sync_client_on_a_thread(sync_client: SyncLangGraphClient) -> None:
    meta = tag()
    thread = sync_client.threads.create()
    cron = sync_client.crons.create_for_thread(
        thread["thread_id"], GRAPH, schedule=YEARLY, input={"n": 0}, metadata=meta
    )
    assert cron["thread_id"] == thread["thread_id"] and cron["on_run_completed"] is None
    assert sync_client.crons.count(thread_id=thread["thread_id"]) == 1
    assert [c["cron_id"] for c in sync_client.crons.search(thread_id=thread["thread_id"])] == [
        cron["cron_id"]
    ]
    assert sync_client.crons.update(cron["cron_id"], metadata={**meta, "v": "2"})["metadata"]["v"] == "2"
    sync_client.crons.delete(cron["cron_id"])
    assert sync_client.crons.count(thread_id=thread["thread_id"]) == 0


@pytest.mark.sdk(
    "crons.count",
    "crons.create",
    "crons.create_for_thread",
    "crons.delete",
    "crons.search",
    "crons.update",
    "threads.create",
    "threads.delete",
    "threads.delete[crons]",
    "threads.prune",
    "threads.prune[crons]",
)
async def test_a_threads_crons_are_deleted_with_it(client: LangGraphClient, db: Database) -> None:
    """As on LangGraph Platform: deleting (or pruning) a thread deletes the crons bound to it, in
    the same transaction (a ``cron_deleted`` on each cron's stream); other crons stay."""
    meta = tag()
    doomed, pruned, kept = [(await client.threads.create())["thread_id"] for _ in range(3)]
    on_doomed = [
        await client.crons.create_for_thread(doomed, GRAPH, schedule=YEARLY, metadata=meta) for _ in range(2)
    ]
    on_pruned = await client.crons.create_for_thread(pruned, GRAPH, schedule=YEARLY, metadata=meta)
    on_kept = await client.crons.create_for_thread(kept, GRAPH, schedule=YEARLY, metadata=meta)
    stateless = await client.crons.create(GRAPH, schedule=YEARLY, metadata=meta)
    assert await client.crons.count(metadata=meta) == 5

    await client.threads.delete(doomed)
    assert await client.crons.count(thread_id=doomed) == 0
    for cron in on_doomed:
        with pytest.raises(NotFoundError):
            await client.crons.update(cron["cron_id"], enabled=False)
        assert [t for _, t in db.events_of(f"cron:{cron['cron_id']}")][-1] == "cron_deleted"
    assert await client.threads.prune([pruned]) == {"pruned_count": 1}
    remaining = {c["cron_id"] for c in await client.crons.search(metadata=meta)}
    assert remaining == {on_kept["cron_id"], stateless["cron_id"]}
    assert on_pruned["cron_id"] not in remaining
    for cron_id in remaining:
        await client.crons.delete(cron_id)


@pytest.mark.sdk(
    "assistants.create",
    "assistants.delete",
    "assistants.delete[crons]",
    "assistants.get",
    "crons.count",
    "crons.create",
    "crons.create_for_thread",
    "crons.delete",
    "crons.search",
    "crons.update",
    "threads.create",
)
async def test_an_assistants_crons_are_deleted_with_it(client: LangGraphClient, db: Database) -> None:
    """As on LangGraph Platform: deleting an assistant deletes its crons (stateless and on a
    thread) in the same transaction; the crons of another assistant of the same graph (and of
    the graph's default assistant) stay."""
    meta = tag()
    doomed = await client.assistants.create(GRAPH, name=f"doomed-{meta['test']}")
    other = await client.assistants.create(GRAPH, name=f"other-{meta['test']}")
    thread = (await client.threads.create())["thread_id"]
    gone = [
        await client.crons.create(doomed["assistant_id"], schedule=YEARLY, metadata=meta),
        await client.crons.create_for_thread(thread, doomed["assistant_id"], schedule=YEARLY, metadata=meta),
    ]
    kept = [
        await client.crons.create(other["assistant_id"], schedule=YEARLY, metadata=meta),
        await client.crons.create(GRAPH, schedule=YEARLY, metadata=meta),
    ]
    assert await client.crons.count(metadata=meta) == 4

    await client.assistants.delete(doomed["assistant_id"])
    with pytest.raises(NotFoundError):
        await client.assistants.get(doomed["assistant_id"])
    remaining = {c["cron_id"] for c in await client.crons.search(metadata=meta)}
    assert remaining == {c["cron_id"] for c in kept}
    for cron in gone:
        with pytest.raises(NotFoundError):
            await client.crons.update(cron["cron_id"], enabled=False)
        assert [t for _, t in db.events_of(f"cron:{cron['cron_id']}")][-1] == "cron_deleted"
    assert await client.crons.count(thread_id=thread) == 0
    for cron_id in remaining:
        await client.crons.delete(cron_id)
    await client.assistants.delete(other["assistant_id"])


@pytest.mark.sdk(
    "crons.create_for_thread",
    "crons.create_for_thread[fires]",
    "crons.delete",
    "runs.list",
    "threads.create",
    "threads.get_state",
)
async def test_a_seconds_schedule_fires_runs_that_complete(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    cron = await client.crons.create_for_thread(
        thread_id, GRAPH, schedule="* * * * * */2", input={"n": 0}, metadata=tag()
    )
    deadline = time.monotonic() + 30
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        runs = [dict(r) for r in await client.runs.list(thread_id)]
        if len(runs) >= 2 and all(r["status"] == "success" for r in runs):
            break
        await asyncio.sleep(0.5)
    await client.crons.delete(cron["cron_id"])
    assert len(runs) >= 2, runs
    # A run created just before the delete may still be running: wait for every one.
    while time.monotonic() < deadline + 30:
        runs = [dict(r) for r in await client.runs.list(thread_id)]
        if all(r["status"] == "success" for r in runs):
            break
        await asyncio.sleep(0.5)
    assert all(r["status"] == "success" for r in runs), runs
    ticks = [r["metadata"]["cron_tick"] for r in runs]  # type: ignore[index]
    assert len(set(ticks)) == len(ticks), ticks  # one run per tick
    assert all(r["metadata"]["cron_id"] == cron["cron_id"] for r in runs)  # type: ignore[index]
    # Each run started from the cron's input and went through the graph's five nodes.
    state = await client.threads.get_state(thread_id)
    assert state["values"]["n"] == 5


@pytest.fixture(scope="module")
def db(api_server: ApiServer) -> Iterator[Database]:
    database = Database(api_server)
    yield database
    database.close()


@pytest.mark.sdk("crons.create")
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"schedule": "every day"}, UnprocessableEntityError),
        ({"schedule": "* * *"}, UnprocessableEntityError),
        ({"schedule": "61 * * * *"}, UnprocessableEntityError),
        ({"timezone": "Mars/Olympus"}, UnprocessableEntityError),
        ({"webhook": "ftp://example.com/hook"}, UnprocessableEntityError),
        # The webhook policy of runs: private addresses are refused unless allowed.
        ({"webhook": "http://127.0.0.1:9/hook"}, UnprocessableEntityError),
        ({"multitask_strategy": "sometimes"}, UnprocessableEntityError),
        ({"on_run_completed": "archive"}, UnprocessableEntityError),
        ({"assistant_id": "no-such-graph"}, NotFoundError),
    ],
)
def test_bad_input_is_a_4xx_and_writes_nothing(
    sync_client: SyncLangGraphClient, db: Database, change: dict[str, str], error: type[Exception]
) -> None:
    args: dict[str, object] = {"assistant_id": GRAPH, "schedule": YEARLY, **change}
    assistant_id = str(args.pop("assistant_id"))
    with pytest.raises(error):
        db.unchanged(lambda: sync_client.crons.create(assistant_id, **args))  # type: ignore[arg-type]


@pytest.mark.sdk("crons.create_for_thread", "crons.delete", "crons.search", "crons.update", "threads.create")
def test_bad_input_on_a_thread_and_on_update(sync_client: SyncLangGraphClient, db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.unchanged(lambda: sync_client.crons.create_for_thread(str(uuid.uuid4()), GRAPH, schedule=YEARLY))
    thread = sync_client.threads.create()
    cron = sync_client.crons.create_for_thread(thread["thread_id"], GRAPH, schedule=YEARLY, metadata=tag())
    try:
        with pytest.raises(UnprocessableEntityError):
            db.unchanged(lambda: sync_client.crons.update(cron["cron_id"], schedule="nope"))
        with pytest.raises(UnprocessableEntityError):
            # A thread's runs stay: on_run_completed is for stateless crons.
            db.unchanged(lambda: sync_client.crons.update(cron["cron_id"], on_run_completed="keep"))
        with pytest.raises(UnprocessableEntityError):
            db.unchanged(lambda: sync_client.crons.search(thread_id="not-a-uuid"))
    finally:
        sync_client.crons.delete(cron["cron_id"])
