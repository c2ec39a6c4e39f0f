"""docs/api.md documents every route of the route table (the OpenAPI document and the URL
patterns are made from that table, the prose is not)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from duragraph_lab.api.routes import ROUTES

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
