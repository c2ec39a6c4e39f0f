"""Saving runs as a dataset says what is odd about them: runs with no input (a fork starts from
another run's state, its input is null) and runs of several assistants; ``require_input`` leaves
the runs with no input out."""

from __future__ import annotations

import uuid
from typing import Any

from tests.apiserver import ApiServer


def _ok(server: ApiServer, method: str, route: str, body: Any = None) -> Any:
    status, payload, _ = server.request(method, route, body)
    assert status < 300, (status, payload)
    return payload


def _run(server: ApiServer, assistant: str, text: str) -> dict[str, Any]:
    tid = _ok(server, "POST", "/threads", {})["thread_id"]
    body = {"assistant_id": assistant, "input": {"messages": [{"role": "user", "content": text}]}}
    _ok(server, "POST", f"/threads/{tid}/runs/wait", body)
    return _ok(server, "GET", f"/threads/{tid}/runs")[0]  # type: ignore[no-any-return]


def test_runs_with_no_input_and_of_several_assistants_are_named(api_server: ApiServer) -> None:
    chat = _run(api_server, "chat", "hello there")
    first = _ok(api_server, "GET", f"/runs/{chat['run_id']}/events")["events"][0]
    fork = _ok(api_server, "POST", f"/runs/{chat['run_id']}/fork", {"seq": first["seq"]})
    _ok(api_server, "GET", f"/threads/{fork['thread_id']}/runs/{fork['run_id']}/join")
    approval = _run(api_server, "approval", "delete it")
    ids = [chat["run_id"], fork["run_id"], approval["run_id"]]
    tag = uuid.uuid4().hex[:8]

    saved = _ok(
        api_server, "POST", "/datasets", {"name": f"mixed-{tag}", "selection": {"ids": ids, "limit": 3}}
    )
    assert saved["example_count"] == 3
    by_code = {w["code"]: w for w in saved["warnings"]}
    assert set(by_code) == {"no_input", "several_assistants"}
    assert by_code["no_input"]["run_ids"] == [fork["run_id"]]
    assert "1 of the 3 runs had no input" in by_code["no_input"]["message"]
    assert by_code["several_assistants"]["assistants"] == ["approval", "chat"]
    # The warnings belong to the answer, not to the dataset.
    assert "warnings" not in _ok(api_server, "GET", f"/datasets/mixed-{tag}")

    # require_input: the fork is left out, and so is its warning.
    body = {"name": f"inputs-{tag}", "selection": {"ids": ids, "limit": 3, "require_input": True}}
    kept = _ok(api_server, "POST", "/datasets", body)
    assert kept["example_count"] == 2 and [w["code"] for w in kept["warnings"]] == ["several_assistants"]
    examples = _ok(api_server, "GET", f"/datasets/inputs-{tag}/examples")["examples"]
    assert fork["run_id"] not in {e["source"]["run_id"] for e in examples}

    # One assistant, every run with an input: nothing to say (a new version answers the same way).
    body = {"selection": {"ids": [chat["run_id"]], "limit": 1}}
    assert _ok(api_server, "POST", f"/datasets/inputs-{tag}/versions", body)["warnings"] == []
