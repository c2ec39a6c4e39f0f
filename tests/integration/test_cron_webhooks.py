"""A cron's webhook is called at the end of each of its runs (the run webhook sender, given the
cron's webhook through each run's kwargs), once per run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver import ApiServer
from tests.fault.test_webhook_restart import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=0)
    yield r
    r.close()


def test_each_run_of_a_cron_calls_its_webhook(tmp_path: Path, receiver: Receiver) -> None:
    api = ApiServer(tmp_path / "data", extra=["--DuraGraphApp.webhook_allow=127.0.0.1/32"]).start()
    try:
        status, thread, _ = api.request("POST", "/threads", {})
        assert status == 200
        status, cron, _ = api.request(
            "POST",
            f"/threads/{thread['thread_id']}/runs/crons",
            {"assistant_id": "slow", "schedule": "* * * * * */2", "input": {"n": 0}, "webhook": receiver.url},
        )
        assert status == 200, cron
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(receiver.received) < 2:
            time.sleep(0.2)
        status, _, _ = api.request("DELETE", f"/runs/crons/{cron['cron_id']}")
        assert status == 204
        assert len(receiver.received) >= 2, receiver.received
        bodies = [body for _, body, _ in receiver.received]
        assert all(b["metadata"]["cron_id"] == cron["cron_id"] for b in bodies), bodies
        assert all(b["status"] == "success" for b in bodies), bodies
        run_ids = [b["run_id"] for b in bodies]
        assert len(set(run_ids)) == len(run_ids)  # one delivery per run
    finally:
        api.kill()
