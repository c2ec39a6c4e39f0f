"""Graph pictures that tell the truth (issue 19), in Debian's chromium through Playwright, on the
standalone dashboard of a real `duragraph-lab serve` (the renderer the widgets share): a router
annotated ``-> Literal["review", "act"]`` (and the other router forms) is drawn as two dashed,
arrowed branches out of classify, no self-loop, the edge classify → act routed beside review
rather than through it; a router that says nothing is one dashed edge to an "any node" marker.
Screenshots go to test-artifacts/graphs/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.e2e.test_dashboard_page import CHROMIUM, Page, browser  # noqa: F401 (the fixture)
from tests.router_graphs import NAMES, REFS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "graphs"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

# What the drawing says, read from the SVG: every edge (its classes, whether its line passes
# through a node other than its ends, whether it has an arrowhead whose tip is the line's end)
# and each node's box.
MEASURE = """
(box) => {
  const svg = box.querySelector("svg.dg-graph");
  const rects = new Map([...svg.querySelectorAll("g[data-node]")].map((g) => [g.dataset.node, g.querySelector("rect").getBBox()]));
  const inside = (r, p) => p.x > r.x + 1 && p.x < r.x + r.width - 1 && p.y > r.y + 1 && p.y < r.y + r.height - 1;
  const edges = [...svg.querySelectorAll("g.dg-edge")].map((g) => {
    const [line, head] = g.querySelectorAll("path");
    const len = line.getTotalLength();
    const points = Array.from({ length: 61 }, (_, i) => line.getPointAtLength((len * i) / 60));
    const crosses = [...rects].filter(([id, r]) => id !== g.dataset.source && id !== g.dataset.target && points.some((p) => inside(r, p))).map(([id]) => id);
    const end = points[points.length - 1];
    const tip = head ? head.getAttribute("d").match(/^M([-\\d.]+),([-\\d.]+)/) : null;
    return {
      source: g.dataset.source,
      target: g.dataset.target,
      conditional: g.classList.contains("dg-conditional"),
      dashed: getComputedStyle(line).strokeDasharray !== "none",
      label: g.querySelector(".dg-edge-label")?.textContent ?? null,
      crosses,
      arrow: Boolean(tip) && Math.hypot(Number(tip[1]) - end.x, Number(tip[2]) - end.y) < 0.5 && getComputedStyle(head).fill !== "none",
    };
  });
  const nodes = Object.fromEntries([...svg.querySelectorAll("g[data-node]")].map((g) => [g.dataset.node, g.textContent]));
  const bb = svg.getBoundingClientRect();
  return { edges, nodes, width: bb.width, height: bb.height };
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    s = ApiServer(Path(tmp_path_factory.mktemp("pictures")) / "data", more_graphs=REFS)
    s.start()
    try:
        yield s
    finally:
        s.kill()


def _draw(browser: Any, server: ApiServer, graph_id: str) -> dict[str, Any]:  # noqa: F811
    status, assistant, _ = server.request("GET", f"/assistants/{graph_id}")
    assert status == 200, assistant
    ui = Page(browser, server)
    try:
        page = ui.open("#/assistants")
        page.locator(f"[data-assistant-id='{assistant['assistant_id']}']").click()
        box = page.locator("[data-dg-page='assistants'] [data-dg-graph]")
        box.locator("g[data-node='review']").wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        box.screenshot(path=str(ARTIFACTS / f"{graph_id}.png"))
        drawn: dict[str, Any] = box.evaluate(MEASURE)
    finally:
        ui.close()
    return drawn


@pytest.mark.parametrize("graph_id", [n for n in NAMES if n != "anywhere_guard"])
def test_a_branching_router_is_drawn_as_branches(browser: Any, server: ApiServer, graph_id: str) -> None:  # noqa: F811
    drawn = _draw(browser, server, graph_id)
    edges = drawn["edges"]
    assert not [e for e in edges if e["source"] == e["target"]], "no self-loop"
    branches = {e["target"]: e for e in edges if e["source"] == "classify"}
    assert set(branches) == {"review", "act"}
    assert all(e["conditional"] and e["dashed"] for e in branches.values())
    if graph_id == "dict_guard":  # a dict path map's keys are the labels
        assert {t: e["label"] for t, e in branches.items()} == {"review": "True", "act": "False"}
    assert all(e["arrow"] for e in edges), [e for e in edges if not e["arrow"]]
    assert not [e for e in edges if e["crosses"]], [e for e in edges if e["crosses"]]
    assert not any(e["dashed"] for e in edges if not e["conditional"])
    # compact: five rows of the layout grid (84 px) and a little padding, not the old 110 px rows
    assert drawn["height"] < 5 * 84 + 30, drawn["height"]


def test_a_router_that_says_nothing_is_drawn_as_going_anywhere(browser: Any, server: ApiServer) -> None:  # noqa: F811
    drawn = _draw(browser, server, "anywhere_guard")
    edges = drawn["edges"]
    assert not [e for e in edges if e["source"] == e["target"]], "no self-loop"
    out = [e for e in edges if e["source"] == "classify"]
    assert len(out) == 1 and out[0]["target"] == "__anywhere__:classify"
    assert out[0]["dashed"] and out[0]["arrow"] and out[0]["label"] == "route_plain"
    assert drawn["nodes"]["__anywhere__:classify"].startswith("any node")
    assert all(e["arrow"] for e in edges) and not [e for e in edges if e["crosses"]]
