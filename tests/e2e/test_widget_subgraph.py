"""GraphView's subgraphs in a real browser (Playwright + Debian chromium): a real run of
tests/api_graphs.py's ``nested`` graph (before -> sub[i1 -> i2] -> after) loaded with
``RunView.for_run`` (x-ray topology), drawn by the run_view bundle on a plain page with a minimal
anywidget model. The subgraph is drawn collapsed; a click on its toggle expands it (inner nodes in a
labelled box, with their status from the namespaced events); it stays expanded across live
status and topology updates; a click on the box's header collapses it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.widgets import STATIC, RunView, StatusFold
from tests.apiserver import ApiServer
from tests.e2e.widget_page import write_widget_page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets-subgraph"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="width: 1040px; margin: 8px"><div id="root"></div>
<script type="module">
window.errors = [];
window.addEventListener("error", (e) => window.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.errors.push(String(e.reason)));
const traits = (window.traits = {traits});
const listeners = {{}};
const emit = (name, ...args) => (listeners[name] || []).slice().forEach((f) => f(...args));
// A live update from the kernel: a trait changes.
window.setTrait = (k, v) => {{ traits[k] = v; emit("change:" + k); }};
const model = {{
  get: (k) => traits[k],
  set(k, v) {{ traits[k] = v; emit("change:" + k); }},
  save_changes() {{}},
  on(name, f) {{ (listeners[name] ||= []).push(f); }},
  off(name, f) {{ if (listeners[name]) listeners[name] = listeners[name].filter((g) => g !== f); }},
  send() {{}},
}};
const code = {code};
const mod = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
mod.default.render({{ model, el: document.getElementById("root") }});
window.ready = true;
</script></body></html>
"""


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


def test_subgraph_expands_with_live_inner_status(nested_view: RunView, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    topo = nested_view.topology
    ids = {n["id"] for n in topo["nodes"]}
    assert {"sub:i1", "sub:i2"} <= ids and "sub" not in ids, "RunView.for_run sends the x-ray topology"
    events = nested_view.events
    inner = [e for e in events if e.type == "node_completed" and (e.data or {}).get("ns")]
    assert [e.node for e in inner] == ["i1", "i2"]
    assert nested_view.status["sub:i1"] == nested_view.status["sub:i2"] == "done"
    # The status halfway: as the kernel had it when i1 had completed and i2 had not.
    fold = StatusFold(ids)
    for e in events:
        fold.apply(e)
        if e.seq == inner[0].seq:
            break
    halfway = dict(fold.status)
    assert halfway["sub:i1"] == "done" and halfway["sub:i2"] != "done"

    state = nested_view.get_state()
    traits = {
        k: state[k] for k in ("topology", "selected_node", "selected_seq", "state", "prev_state", "run")
    }
    traits |= {"status": halfway, "message": ""}
    html = write_widget_page(tmp_path / "subgraph.html", PAGE, STATIC, traits)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(html.as_uri())
            page.wait_for_function("() => window.ready === true", timeout=30_000)
            graph = page.locator(".dg-graph")
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

            # Live updates keep it expanded: the final status, then the topology again.
            page.evaluate("(s) => window.setTrait('status', s)", nested_view.status)
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
            browser.close()
