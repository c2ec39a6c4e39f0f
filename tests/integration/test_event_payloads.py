"""Every payload that today's writers store is of its type: the requests of the log fixture's
capture (tests/data/capture_event_log.py), made against the session's real `duragraph-lab serve`,
write every event type, and each row of `duragraph.events` then passes the catalogue's check.
(tests/unit/test_event_types.py checks the captured fixture: logs of an earlier release.)"""

from __future__ import annotations

import asyncio

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.domain import events as ev
from tests.apiserver import ApiServer
from tests.data.capture_event_log import checkpoints, drive, dump
from tests.devserver import owner_database_url


def test_every_stored_payload_is_of_its_type(api_server: ApiServer) -> None:
    with DuraGraphClient(
        f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60
    ) as client:
        drive(api_server, client)
    url = owner_database_url(api_server.data_dir)
    asyncio.run(checkpoints(url))
    log = asyncio.run(dump(url))
    assert {row["type"] for row in log} >= set(ev.CATALOGUE)
    problems = [(row["seq"], p) for row in log for p in ev.payload_problems(row["type"], row["data"])]
    assert problems == []
