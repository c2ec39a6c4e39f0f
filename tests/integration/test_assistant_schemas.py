"""``GET /assistants/{id}/schemas`` on a real server: the input schema the Playground builds its
form from, for native graphs (chat and not) and for a LangGraph ``StateGraph`` whose state type
LangGraph itself cannot describe here (a ``typing.TypedDict`` before Python 3.12)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.playground_graphs import REFS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    s = ApiServer(Path(tmp_path_factory.mktemp("schemas")) / "data", more_graphs=REFS)
    s.start()
    try:
        yield s
    finally:
        s.kill()


def _schemas(server: ApiServer, assistant: str) -> dict[str, Any]:
    status, body, _ = server.request("GET", f"/assistants/{assistant}/schemas")
    assert status == 200, body
    return dict(body)


def test_a_native_graph_serves_its_input_schema(server: ApiServer) -> None:
    found = _schemas(server, "order")
    assert found["graph_id"] == "order"
    assert set(found) >= {"input_schema", "output_schema", "state_schema", "config_schema", "context_schema"}
    props = found["input_schema"]["properties"]
    assert props["customer"]["type"] == "string"
    assert props["quantity"]["type"] == "integer"
    assert props["price"]["type"] == "number"
    assert props["express"]["type"] == "boolean"
    assert props["size"]["enum"] == ["small", "medium", "large"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "x-reducer": "replace"}
    assert props["log"]["x-reducer"] == "add"
    assert found["input_schema"]["required"] == []  # total=False

    # The same id by assistant id as by graph id.
    status, assistant, _ = server.request("GET", "/assistants/order")
    assert status == 200
    assert _schemas(server, assistant["assistant_id"]) == found


def test_a_chat_graph_has_a_messages_key(server: ApiServer) -> None:
    props = _schemas(server, "chat")["input_schema"]["properties"]
    assert list(props) == ["messages"]
    assert props["messages"]["type"] == "array" and props["messages"]["x-reducer"] == "add_messages"


def test_a_langgraph_state_langgraph_cannot_describe_gets_ours(server: ApiServer) -> None:
    found = _schemas(server, "lg_shout")
    for key in ("input_schema", "output_schema", "state_schema"):
        schema = found[key]
        assert schema is not None, key
        assert {k: v["type"] for k, v in schema["properties"].items()} == {
            "text": "string",
            "times": "integer",
            "result": "string",
        }
    if sys.version_info < (3, 12):  # pydantic refuses typing.TypedDict: the fallback served it
        assert found["input_schema"]["title"] == "Shout"


def test_an_input_built_from_the_schema_runs_a_non_chat_graph(server: ApiServer) -> None:
    """What the Playground sends for a graph without ``messages``: no 422."""
    for assistant, body, check in (
        ("order", {"customer": "Ada", "quantity": 2, "price": 3.5, "express": True, "tags": ["a"]}, "total"),
        ("lg_shout", {"text": "hi", "times": 2}, "result"),
    ):
        status, thread, _ = server.request("POST", "/threads", {})
        assert status == 200, thread
        status, values, _ = server.request(
            "POST", f"/threads/{thread['thread_id']}/runs/wait", {"assistant_id": assistant, "input": body}
        )
        assert status == 200, values
        assert values[check] == {"total": 12.0, "result": "HI HI"}[check], values
    status, err, _ = server.request(
        "POST",
        "/runs/wait",
        {"assistant_id": "order", "input": {"messages": [{"role": "user", "content": "x"}]}},
    )
    assert status == 422 and "messages" in err["message"], err


def test_an_unknown_assistant_is_a_404(server: ApiServer) -> None:
    status, body, _ = server.request("GET", "/assistants/no-such-assistant/schemas")
    assert status == 404 and body["error"], body
