"""Every payload that today's writers store is of its type: the log fixture's capture
(tests/data/capture_event_log.py: runs of native and LangGraph graphs, threads, assistants,
datasets, experiments, crons, webhooks, LangGraph's checkpointer used directly), made against a real
`duragraph-lab serve` of this checkout, writes every catalogued event type, and each stored row then
passes the catalogue's check. (tests/unit/test_event_types.py checks the captured fixture: logs
written by earlier code.)"""

from __future__ import annotations

from pathlib import Path

from duragraph_lab.domain import events as ev
from tests.data.capture_event_log import capture_server, drive_all


def test_every_stored_payload_is_of_its_type(tmp_path: Path) -> None:
    server = capture_server(tmp_path / "data")
    server.start()
    try:
        log = drive_all(server)
    finally:
        server.kill()
    assert {row["type"] for row in log} >= set(ev.CATALOGUE)
    checked = [row for row in log if row["type"] in ev.CATALOGUE]
    problems = [(row["seq"], p) for row in checked for p in ev.payload_problems(row["type"], row["data"])]
    assert problems == []
