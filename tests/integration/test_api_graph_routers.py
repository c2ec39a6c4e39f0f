"""GET /assistants/{id}/graph says where each kind of router may go (issue 19): the targets of a
``Literal`` return annotation (also ``| None``), of a list or dict path map, of a node's
``Command[Literal]``, and "anywhere" (``inferred``) for a router that says nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver import ApiServer
from tests.router_graphs import REFS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    s = ApiServer(Path(tmp_path_factory.mktemp("routers")) / "data", more_graphs=REFS)
    s.start()
    try:
        yield s
    finally:
        s.kill()


def _branches(server: ApiServer, graph_id: str) -> list[tuple[str, str, str | None, bool]]:
    status, body, _ = server.request("GET", f"/assistants/{graph_id}/graph?details=true")
    assert status == 200, body
    assert {"nodes", "edges", "layout"} <= body.keys()
    return sorted(
        (e["target"], e["kind"], e.get("data"), bool(e.get("inferred")))
        for e in body["edges"]
        if e["source"] == "classify" and e["conditional"]
    )


@pytest.mark.parametrize(
    ("graph_id", "expected"),
    [
        ("literal_guard", [("act", "conditional", "act", False), ("review", "conditional", "review", False)]),
        (
            "optional_guard",
            [("act", "conditional", "act", False), ("review", "conditional", "review", False)],
        ),
        ("list_guard", [("act", "conditional", "act", False), ("review", "conditional", "review", False)]),
        ("dict_guard", [("act", "conditional", "False", False), ("review", "conditional", "True", False)]),
        ("command_guard", [("act", "command", "act", False), ("review", "command", "review", False)]),
    ],
)
def test_the_graph_gives_each_router_its_declared_targets(
    server: ApiServer, graph_id: str, expected: list[object]
) -> None:
    assert _branches(server, graph_id) == expected


def test_a_router_that_says_nothing_is_served_as_going_anywhere(server: ApiServer) -> None:
    branches = _branches(server, "anywhere_guard")
    assert {t for t, *_ in branches} == {"classify", "review", "act", "__end__"}
    assert all(inferred for *_, inferred in branches)
    status, body, _ = server.request("GET", "/assistants/anywhere_guard/graph?details=true")
    assert status == 200
    assert {e.get("router") for e in body["edges"] if e.get("inferred")} == {"route_plain"}
    # laid out as drawn: review below classify, not beside START
    pos = body["layout"]["nodes"]
    assert pos["review"]["layer"] == pos["classify"]["layer"] + 1


def test_without_details_edges_have_langgraphs_keys_only(server: ApiServer) -> None:
    """What LangGraph clients get by default: ``RemoteGraph.get_graph`` builds ``Edge(**edge)``."""
    for graph_id in ("command_guard", "anywhere_guard"):
        status, body, _ = server.request("GET", f"/assistants/{graph_id}/graph")
        assert status == 200, body
        assert {k for e in body["edges"] for k in e} <= {"source", "target", "data", "conditional"}
        _, detailed, _ = server.request("GET", f"/assistants/{graph_id}/graph?details=true")
        plain = [(e["source"], e["target"], e.get("data"), e["conditional"]) for e in detailed["edges"]]
        assert [(e["source"], e["target"], e.get("data"), e["conditional"]) for e in body["edges"]] == plain
