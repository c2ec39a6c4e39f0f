"""Run lifecycle edges over HTTP that no SDK call exercises directly."""

from __future__ import annotations

from tests.apiserver import ApiServer


def test_a_deleted_interrupted_run_cannot_be_resumed(api_server: ApiServer) -> None:
    _, thread, _ = api_server.request("POST", "/threads", {})
    tid = thread["thread_id"]
    status, result, _ = api_server.request(
        "POST", f"/threads/{tid}/runs/wait", {"assistant_id": "asking", "input": {"n": 1}}
    )
    assert status == 200 and result["__interrupt__"][0]["value"]["question"] == "proceed?"
    _, runs, _ = api_server.request("GET", f"/threads/{tid}/runs")
    run_id = runs[0]["run_id"]
    assert api_server.request("DELETE", f"/threads/{tid}/runs/{run_id}")[0] == 204
    _, before, _ = api_server.request("GET", f"/runs/{run_id}/events")
    status, body, _ = api_server.request(
        "POST", f"/threads/{tid}/runs/wait", {"assistant_id": "asking", "command": {"resume": "yes"}}
    )
    assert status == 404 and body["error"] == "not_found" and "deleted" in body["message"]
    _, after, _ = api_server.request("GET", f"/runs/{run_id}/events")
    assert after["events"] == before["events"], "a refused resume writes nothing"


def test_interrupt_before_star_in_a_list_pauses_before_the_first_node(api_server: ApiServer) -> None:
    _, thread, _ = api_server.request("POST", "/threads", {})
    tid = thread["thread_id"]
    status, result, _ = api_server.request(
        "POST",
        f"/threads/{tid}/runs/wait",
        {"assistant_id": "slow", "input": {"sleep": 0}, "interrupt_before": ["*"]},
    )
    assert status == 200, result
    _, state, _ = api_server.request("GET", f"/threads/{tid}/state")
    assert state["next"] == ["s0"] and state["values"].get("n") is None


def test_an_unknown_path_under_the_api_is_a_json_404(api_server: ApiServer) -> None:
    status, body, headers = api_server.request("GET", "/no/such/route")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert body["error"] == "not_found" and "/no/such/route" in body["message"]
    assert api_server.request("POST", "/threads/x/unknown", {})[0] == 404
    # ...and it is authenticated like every route.
    assert api_server.request("GET", "/no/such/route", token=None)[0] == 401
