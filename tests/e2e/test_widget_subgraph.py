"""GraphView's subgraphs in a real browser (Playwright + Debian chromium): a real run of
tests/api_graphs.py's ``nested`` graph (before -> sub[i1 -> i2] -> after) loaded with
``RunView.for_run`` (x-ray topology), drawn by the run_view bundle on a plain page with a minimal
anywidget model. The subgraph is drawn collapsed; a click on its toggle expands it (inner nodes in a
labelled box, with their status folded in the browser from the namespaced events); it stays
expanded across live events and topology updates; a click on the box's header collapses it."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.widgets import STATIC, RunView, events_to_arrow
from tests.apiserver import ApiServer
from tests.e2e.widget_page import LIVE_PAGE, write_widget_page
from tests.node import node_statuses

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets-subgraph"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


@pytest.fixture(scope="module")
def nested_view(api_server: ApiServer) -> Iterator[RunView]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as client:
        result = client.runs.wait(None, "nested", input={"log": []}, on_completion="keep")
        assert result.run_id is not None
        yield RunView.for_run(client, result.run_id)


def _drawn(page: Any) -> dict[str, str]:
    return dict(
        page.evaluate(
            "() => [...document.querySelectorAll('.dg-graph g[data-node]')]"
            ".map((g) => [g.dataset.node, g.dataset.status])"
        )
    )


def test_subgraph_expands_with_live_inner_status(browser: Any, nested_view: RunView, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    topo = nested_view.topology
    ids = {n["id"] for n in topo["nodes"]}
    assert {"sub:i1", "sub:i2"} <= ids and "sub" not in ids, "RunView.for_run sends the x-ray topology"
    events = nested_view.events
    inner = [e for e in events if e.type == "node_completed" and (e.data or {}).get("ns")]
    assert [e.node for e in inner] == ["i1", "i2"]
    final = node_statuses(events)[0]
    assert final["sub:i1"] == final["sub:i2"] == "done"
    # The events halfway: as the kernel had sent them when i1 had completed and i2 had not.
    cut = next(i for i, e in enumerate(events) if e.seq == inner[0].seq) + 1
    halfway = node_statuses(events, [cut])[0]
    assert halfway["sub:i1"] == "done" and halfway.get("sub:i2", "pending") != "done"

    state = nested_view.get_state()
    traits = {
        k: state[k] for k in ("topology", "selected_node", "selected_seq", "state", "prev_state", "run")
    }
    traits |= {"message": ""}
    # What the kernel had sent by then: the run still running, the state after i1 (the rest, with
    # the run's end, comes below with the rest of the events).
    at_end = {k: state[k] for k in ("run", "state", "prev_state", "state_at")}
    nested_view.selected_seq = inner[0].seq
    traits |= {
        "run": {**state["run"], "status": "running", "output": None},
        "state": nested_view.state,
        "prev_state": nested_view.prev_state,
        "state_at": nested_view.state_at,
    }
    nested_view.selected_seq = -1
    html = write_widget_page(
        tmp_path / "subgraph.html", LIVE_PAGE, STATIC, traits, events_to_arrow(events[:cut])
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    try:
        page.goto(html.as_uri())
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        graph = page.locator(".dg-graph")
        expect(page.locator(".dg-replay-label")).to_contain_text(f"#{inner[0].seq} node_completed")
        expect(page.locator(".dg-run-status")).to_have_text("running")
        expect(page.locator("[data-dg-replay-caption]")).to_contain_text(f"state after #{inner[0].seq}")
        # Collapsed: one node for the subgraph, with its badge and a toggle; running (i1 done).
        drawn = _drawn(page)
        assert set(drawn) == {"__start__", "before", "sub", "after", "__end__"}
        assert drawn["sub"] == "running"
        assert drawn["before"] == "done" and drawn["after"] == "pending"
        sub = graph.locator('g[data-node="sub"]')
        expect(sub.locator(".dg-badge")).to_have_text("⧉")
        page.screenshot(path=str(ARTIFACTS / "collapsed.png"))
        height = graph.evaluate("(svg) => svg.viewBox.baseVal.height")

        # Expand: a real click on the toggle.
        sub.locator(".dg-toggle").click()
        cluster = graph.locator('g[data-cluster="sub"]')
        expect(cluster).to_have_count(1)
        header = graph.locator('[data-cluster-header="sub"] .dg-cluster-label')
        expect(header).to_have_text("subsubgraph")  # the name, then "subgraph" (a tspan)
        drawn = _drawn(page)
        assert set(drawn) == {"__start__", "before", "sub:i1", "sub:i2", "after", "__end__"}
        assert drawn["sub:i1"] == "done" and drawn["sub:i2"] == "pending"
        assert cluster.get_attribute("data-status") == "running"
        labels = graph.locator('g[data-node^="sub:"] .dg-node-label').all_text_contents()
        assert labels == ["i1", "i2"]
        assert graph.evaluate("(svg) => svg.viewBox.baseVal.height") > height, "layout recomputed"
        # The inner nodes are inside the box.
        box = cluster.locator(".dg-cluster-box").bounding_box()
        for node in ("sub:i1", "sub:i2"):
            nb = graph.locator(f'g[data-node="{node}"] rect').first.bounding_box()
            assert box and nb
            assert box["x"] <= nb["x"] and nb["x"] + nb["width"] <= box["x"] + box["width"]
            assert box["y"] <= nb["y"] and nb["y"] + nb["height"] <= box["y"] + box["height"]
        page.screenshot(path=str(ARTIFACTS / "expanded-running.png"))

        # Live updates keep it expanded: the rest of the events, then the topology again.
        rest = base64.b64encode(events_to_arrow(events[cut:])).decode()
        page.evaluate("(b) => window.sendEvents(b)", rest)
        page.evaluate("(t) => { for (const [k, v] of Object.entries(t)) window.setTrait(k, v); }", at_end)
        expect(page.locator(".dg-replay-label")).to_contain_text(f"#{events[-1].seq} run_completed")
        expect(page.locator(".dg-run-status")).to_have_text("success")
        drawn = _drawn(page)
        assert drawn["sub:i2"] == "done" and drawn["after"] == "done"
        assert cluster.get_attribute("data-status") == "done"
        page.evaluate("(t) => window.setTrait('topology', t)", topo)
        expect(cluster).to_have_count(1)
        assert _drawn(page)["sub:i2"] == "done"
        page.screenshot(path=str(ARTIFACTS / "expanded-done.png"))

        # Collapse: a click on the box's header.
        graph.locator('[data-cluster-header="sub"]').click()
        expect(cluster).to_have_count(0)
        drawn = _drawn(page)
        assert "sub:i1" not in drawn and drawn["sub"] == "done"
        assert page.evaluate("() => window.errors") == []
    finally:
        page.close()
