"""The API server is SIGKILLed mid-run: a client that reconnects with ``Last-Event-ID`` to the
restarted server still gets every event of the run exactly once, in order."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.apiserver import ApiServer
from tests.devserver import wait_until_gone
from tests.integration.test_api_sse import Frame, assert_same_frames, frames, read_all

MODES = [("stream_mode", m) for m in ("values", "updates", "checkpoints")]


def server(data_dir: Path, port: int | None = None) -> ApiServer:
    # A short lease, so that the restarted worker takes the orphaned run over within seconds; the
    # same token, so that the client's credentials survive the restart.
    return ApiServer(
        data_dir,
        extra=["--DuraGraphApp.worker_lease_ttl=2"],
        env={"JUPYTER_TOKEN": "restart-test-token"},
        port=port,
    )


async def test_stream_resumes_exactly_once_across_a_server_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = server(data_dir).start()
    try:
        async with httpx.AsyncClient(base_url=first.base, headers=first.headers, timeout=60) as client:
            thread = (await client.post("/threads", json={})).json()
            created = await client.post(
                f"/threads/{thread['thread_id']}/runs",
                json={"assistant_id": "slow", "input": {"sleep": 0.6}},
            )
            run = created.json()
            path = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
            received: list[Frame] = []
            async with client.stream("GET", path, params=MODES) as response:
                async for frame in frames(response):
                    received.append(frame)
                    if any(f.event == "updates" for f in received[1:]) and frame.id:
                        # Mid-run (a node has finished, others have not): the server dies.
                        first.signal(signal.SIGKILL)
                        break
            first.wait()
    finally:
        first.kill()
    # PostgreSQL and NATS die with their parent (PR_SET_PDEATHSIG); the restart waits for that.
    assert wait_until_gone(data_dir) == []
    last = [f.id for f in received if f.id][-1]
    assert last is not None

    second = server(data_dir, port=first.port).start()
    try:
        async with httpx.AsyncClient(base_url=second.base, headers=second.headers, timeout=60) as client:
            rest = await read_all(client, path, last_event_id=last, params=MODES)
            assert rest[0].event == "metadata"
            joined = received[1:] + rest[1:]
            values = [f.data for f in joined if f.event == "values"]
            assert values[-1]["log"] == ["s0", "s1", "s2", "s3", "s4"]
            ids = [int(f.id) for f in joined if f.id]
            assert ids == sorted(ids) and len(ids) == len(set(ids))
            # The whole run read in one go from the restarted server is the same, frame for frame.
            assert_same_frames(joined, (await read_all(client, path, params=MODES))[1:])
            status = (await client.get(f"/threads/{run['thread_id']}/runs/{run['run_id']}")).json()
            assert status["status"] == "success"
            # It finished because the restarted worker took it over once the lease had expired.
            log = (await client.get(f"/runs/{run['run_id']}/events")).json()["events"]
            assert [e["data"]["attempt"] for e in log if e["type"] == "run_started"] == [1, 2]
    finally:
        second.kill()
