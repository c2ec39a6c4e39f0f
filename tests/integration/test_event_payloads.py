"""Every payload that today's writers store is of its type: the requests of the log fixture's
capture (tests/data/capture_event_log.py, without its LangGraph part: the session's server serves
no LangGraph graph), made against the session's real `duragraph-lab serve`, write every event type
of the run, thread, assistant, graph, dataset and experiment streams, and each stored row of a
catalogued type then passes the catalogue's check. (tests/unit/test_event_types.py checks the
captured fixture, LangGraph's events included.)"""

from __future__ import annotations

import asyncio

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.domain import events as ev
from tests.apiserver import ApiServer
from tests.data.capture_event_log import drive, dump
from tests.devserver import owner_database_url

KINDS = {"run", "thread", "assistant", "graph", "dataset", "experiment"}


def test_every_stored_payload_is_of_its_type(api_server: ApiServer) -> None:
    with DuraGraphClient(
        f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60
    ) as client:
        drive(api_server, client)
    log = asyncio.run(dump(owner_database_url(api_server.data_dir)))
    expected = {name for name, spec in ev.CATALOGUE.items() if spec.stream_kind in KINDS}
    assert {row["type"] for row in log} >= expected
    checked = [row for row in log if row["type"] in ev.CATALOGUE]
    problems = [(row["seq"], p) for row in checked for p in ev.payload_problems(row["type"], row["data"])]
    assert problems == []
