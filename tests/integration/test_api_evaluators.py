"""GET /evaluators: the built-in evaluators' catalogue as the server serves it (read access), and
the specs a client builds from it are what POST /experiments takes."""

from __future__ import annotations

from typing import Any

from duragraph_lab.evals.catalogue import catalogue
from tests.apiserver import ApiServer


def test_the_catalogue_is_served_to_readers(api_server: ApiServer) -> None:
    status, body, headers = api_server.request("GET", "/evaluators")
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert body == catalogue()
    status, body, _ = api_server.request("GET", "/evaluators", token=None)
    assert status == 401 and body["error"] == "unauthorized", body


def test_specs_built_from_the_catalogue_are_accepted(api_server: ApiServer) -> None:
    """Each built-in with its examples (else its defaults; a required one without either gets a
    plain value of its type) and the score-name template filled: the server accepts it, and a
    value that breaks a declared constraint the server also checks is refused (422)."""
    thread = api_server.request("POST", "/threads", {})[1]["thread_id"]
    status, _, _ = api_server.request(
        "POST",
        f"/threads/{thread}/runs/wait",
        {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hi"}]}},
    )
    assert status == 200
    run_id = api_server.request("GET", f"/threads/{thread}/runs")[1][0]["run_id"]
    name = f"catalogue-{run_id[:8]}"
    status, body, _ = api_server.request("POST", "/datasets", {"name": name, "selection": {"ids": [run_id]}})
    assert status == 200, body
    plain: dict[str, Any] = {"string": "x", "number": 1, "integer": 1, "array": ["x"], "boolean": False}
    specs = []
    for entry in catalogue():
        kwargs = {
            p["name"]: p["example"] if "example" in p else p.get("default", plain[p["type"]])
            for p in entry["parameters"]
        }
        specs.append({"name": entry["name"], "builtin": entry["name"], "kwargs": kwargs})
    body = {"dataset": name, "assistant_id": "chat", "evaluators": specs}
    status, created, _ = api_server.request("POST", "/experiments", body)
    assert status == 200, created
    assert [e["builtin"] for e in created["evaluators"]] == [e["name"] for e in catalogue()]
    bad = {
        **body,
        "evaluators": [{"name": "m", "builtin": "trajectory_match", "kwargs": {"mode": "sideways"}}],
    }
    status, refused, _ = api_server.request("POST", "/experiments", bad)
    assert status == 422 and "unknown mode" in refused["message"], refused
