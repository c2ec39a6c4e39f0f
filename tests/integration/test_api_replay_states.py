"""What the replay slider reads: ``GET /runs/{run_id}/state?seq=`` (the state right after an
event, at a node's completion with that node's update applied, and right before it), and where a
fork came from (``forked_from`` on its run JSON)."""

from __future__ import annotations

from typing import Any

from tests.apiserver import ApiServer


def _ok(server: ApiServer, method: str, route: str, body: Any = None) -> Any:
    status, payload, _ = server.request(method, route, body)
    assert status < 300, (status, payload)
    return payload


def _finished_slow_run(server: ApiServer) -> tuple[str, str, list[dict[str, Any]]]:
    tid = _ok(server, "POST", "/threads", {})["thread_id"]
    _ok(server, "POST", f"/threads/{tid}/runs/wait", {"assistant_id": "slow", "input": {"n": 0, "sleep": 0}})
    run_id = _ok(server, "GET", f"/threads/{tid}/runs")[0]["run_id"]
    return tid, run_id, _ok(server, "GET", f"/runs/{run_id}/events")["events"]


def test_at_a_node_completion_the_state_is_the_one_after_the_node(api_server: ApiServer) -> None:
    _, run_id, events = _finished_slow_run(api_server)
    completions = [e for e in events if e["type"] == "node_completed"]
    assert [e["data"]["node"] for e in completions] == ["s0", "s1", "s2", "s3", "s4"]
    for i, event in enumerate(completions):
        at = _ok(api_server, "GET", f"/runs/{run_id}/state?seq={event['seq']}")
        assert (at["seq"], at["type"], at["node"], at["step"]) == (event["seq"], "node_completed", f"s{i}", i)
        # After the node: its update applied (n counted up, its log line appended)...
        assert at["values"]["n"] == i + 1 and at["values"]["log"] == [f"s{k}" for k in range(i + 1)]
        # ...and before it (the step_planned that started its step): not yet.
        assert at["previous"]["n"] == i and at["previous"].get("log", []) == [f"s{k}" for k in range(i)]
        position = events.index(event)
        assert at["previous_seq"] == events[position - 1]["seq"]
        assert events[position - 1]["type"] == "step_planned"

    # The next step_planned applies nothing new: no change there.
    planned = next(e for e in events if e["type"] == "step_planned" and e["seq"] > completions[0]["seq"])
    at = _ok(api_server, "GET", f"/runs/{run_id}/state?seq={planned['seq']}")
    assert at["values"] == at["previous"] and at["values"]["n"] == 1

    # The run's first event: the input, on the thread's (empty) state.
    first = _ok(api_server, "GET", f"/runs/{run_id}/state?seq={events[0]['seq']}")
    assert first["type"] == "run_created" and first["previous_seq"] is None
    assert first["previous"] == {} and first["values"]["n"] == 0

    # No seq: the latest event, the final state.
    last = _ok(api_server, "GET", f"/runs/{run_id}/state")
    assert last["seq"] == events[-1]["seq"] and last["type"] == "run_completed"
    assert last["values"]["n"] == 5


def test_the_second_run_of_a_thread_starts_from_the_state_the_first_left(api_server: ApiServer) -> None:
    tid, _, _ = _finished_slow_run(api_server)
    _ok(api_server, "POST", f"/threads/{tid}/runs/wait", {"assistant_id": "slow", "input": {"sleep": 0}})
    second = _ok(api_server, "GET", f"/threads/{tid}/runs")[0]["run_id"]
    events = _ok(api_server, "GET", f"/runs/{second}/events")["events"]
    first = _ok(api_server, "GET", f"/runs/{second}/state?seq={events[0]['seq']}")
    assert first["previous_seq"] is None and first["previous"]["n"] == 5
    done = next(e for e in events if e["type"] == "node_completed")
    assert _ok(api_server, "GET", f"/runs/{second}/state?seq={done['seq']}")["values"]["n"] == 6


def test_bad_positions_are_clear_errors(api_server: ApiServer) -> None:
    _, run_id, events = _finished_slow_run(api_server)
    status, body, _ = api_server.request("GET", f"/runs/{run_id}/state?seq={events[-1]['seq'] + 10_000}")
    assert status == 404 and body["error"] == "not_found" and "no event with seq" in body["message"]
    status, body, _ = api_server.request("GET", f"/runs/{run_id}/state?seq=abc")
    assert status == 422 and "seq" in body["message"]
    status, body, _ = api_server.request("GET", "/runs/00000000-0000-4000-8000-000000000000/state")
    assert status == 404


def test_a_fork_says_where_it_came_from(api_server: ApiServer) -> None:
    tid, run_id, events = _finished_slow_run(api_server)
    at = next(i for i, e in enumerate(events) if e["type"] == "node_completed" and e["data"]["node"] == "s1")
    fork = _ok(api_server, "POST", f"/runs/{run_id}/fork", {"seq": events[at]["seq"], "update": {"n": 100}})
    origin = {"run_id": run_id, "seq": events[at]["seq"], "position": at, "edited": ["n"]}
    assert fork["forked_from"] == origin
    _ok(api_server, "GET", f"/threads/{tid}/runs/{fork['run_id']}/join")
    assert _ok(api_server, "GET", f"/runs/{fork['run_id']}")["forked_from"] == origin
    listed = {r["run_id"]: r for r in _ok(api_server, "GET", f"/threads/{tid}/runs")}
    assert listed[fork["run_id"]]["forked_from"] == origin and listed[run_id]["forked_from"] is None
    # The fork went on from after s1 with n edited: s2, s3, s4 each add one.
    assert _ok(api_server, "GET", f"/runs/{fork['run_id']}/state")["values"]["n"] == 103
