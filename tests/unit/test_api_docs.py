"""docs/api.md documents every route of the route table (the OpenAPI document and the URL
patterns are made from that table, the prose is not)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from duragraph_lab.api.routes import ACTIONS, EXECUTE, READ, ROUTES, WRITE

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
DOCUMENTED = {p for cell in re.findall(r"`([^`]*)`", DOC) for p in re.findall(r"(/[a-z0-9_.{}/-]+)", cell)}


@pytest.mark.parametrize("path", sorted({r.path for r in ROUTES}))
def test_every_route_is_documented(path: str) -> None:
    assert path in DOCUMENTED, f"{path} is served but docs/api.md does not mention it"


def test_the_doc_names_no_route_that_does_not_exist() -> None:
    served = {r.path for r in ROUTES}
    table = DOC.split("## Routes", 1)[1].split("### Run requests", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    named = {p for cell in first_cells for p in re.findall(r"(/[a-z0-9_.{}/-]+)", cell)}
    # "`POST /runs`, `/runs/wait`": every path in a row's first cell must be served.
    assert named - served == set(), f"docs/api.md names routes the API does not serve: {named - served}"
    assert named == served


AUTHZ = DOC.split("## Authorization", 1)[1].split("\n## ", 1)[0]


def documented_actions() -> dict[str, set[tuple[str, str]]]:
    """``action -> {(method, path)}`` as the Authorization table names them."""
    rows = [line.split("|") for line in AUTHZ.splitlines() if line.startswith("| `")]
    out: dict[str, set[tuple[str, str]]] = {}
    for row in rows:
        action = row[1].strip().strip("`")
        out[action] = {
            (method.lower(), path)
            for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[a-z0-9_.{}/-]+)`", row[2])
        }
    return out


def test_the_authorization_table_is_the_route_table() -> None:
    """Reads are every GET but those listed elsewhere, plus the POSTs listed; writes and executes
    are listed in full."""
    table: dict[str, set[tuple[str, str]]] = {action: set() for action in ACTIONS}
    for route in ROUTES:
        for method in route.ops:
            table[route.action(method)].add((method, route.path))
    documented = documented_actions()
    assert set(documented) == set(ACTIONS)
    assert documented[WRITE] == table[WRITE]
    assert documented[EXECUTE] == table[EXECUTE]
    assert documented[READ] == {(m, p) for m, p in table[READ] if m != "get"}


def test_the_actions_added_by_query_parameters_are_documented() -> None:
    for route in ROUTES:
        for op in route.ops.values():
            for param, action in op.escalations:
                assert f"`{param}=true`" in AUTHZ and f"needs `{action}`" in AUTHZ, (route.path, param)
