"""One run, two views, one picture: a real run of tests/api_graphs.py's ``lifecycle`` graph (a node
retried after a failed attempt, a subgraph that asks a human, resumed, then a node cancelled while
it sleeps) shown by the notebook's RunView (the run_view bundle on a plain page, fed by
``RunView.for_run`` as the kernel would) and by the dashboard's Run view (the standalone page of a
real server), in Playwright + Debian chromium. Both fold the node statuses from the same events
with the same code: at the end, at the retry, at the interrupt and after the resume, collapsed
and with the subgraph expanded, every node is drawn the same in both, and as the fold's
semantics say. Screenshots go to test-artifacts/run-view-parity/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.widgets import STATIC, RunView, events_to_arrow
from tests.apiserver import ApiServer
from tests.e2e.widget_page import LIVE_PAGE, write_widget_page
from tests.integration.test_dashboard_handler import ensure_dashboard_built

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "run-view-parity"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")


def _api(server: ApiServer, method: str, route: str, body: Any = None) -> Any:
    status, payload, _ = server.request(method, route, body)
    assert status < 300, (method, route, status, payload)
    return payload


def _until(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def lifecycle_run(api_server: ApiServer) -> str:
    """The run: flaky retried, the review subgraph interrupted and resumed, wait cancelled."""
    thread = _api(api_server, "POST", "/threads", {})["thread_id"]
    body = {"assistant_id": "lifecycle", "input": {"sleep": 60}}
    _api(api_server, "POST", f"/threads/{thread}/runs/wait", body)
    run_id = _api(api_server, "GET", f"/threads/{thread}/runs")[0]["run_id"]
    assert _api(api_server, "GET", f"/runs/{run_id}")["status"] == "interrupted"
    resumed = _api(
        api_server,
        "POST",
        f"/threads/{thread}/runs",
        {"assistant_id": "lifecycle", "command": {"resume": True}},
    )
    assert resumed["run_id"] == run_id, "a resume continues the interrupted run"

    def waiting() -> bool:
        events = _api(api_server, "GET", f"/runs/{run_id}/events")["events"]
        return any(
            e["type"] == "step_planned" and [t["node"] for t in e["data"]["tasks"]] == ["wait"]
            for e in events
        )

    _until(waiting, "the wait node to be planned")
    _api(api_server, "POST", f"/threads/{thread}/runs/{run_id}/cancel", {})
    _until(
        lambda: _api(api_server, "GET", f"/runs/{run_id}")["duragraph_status"] == "cancelled", "the cancel"
    )
    return str(run_id)


@pytest.fixture(scope="module")
def browser(browser: Any) -> Any:
    """The package's chromium (tests/e2e/conftest.py), once the dashboard is built."""
    ensure_dashboard_built()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return browser


def _drawn(root: Any) -> dict[str, str]:
    return dict(
        root.evaluate(
            "(el) => [...el.querySelectorAll('g[data-node], g[data-cluster]')]"
            ".map((g) => [g.dataset.node ?? `cluster ${g.dataset.cluster}`, g.dataset.status])"
        )
    )


def _select(page: Any, root: str, index: int) -> None:
    """Move the replay slider to event ``index`` as a user would (an input event)."""
    page.locator(f"{root} .dg-replay-range").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', { bubbles: true })); }", index
    )


def test_a_run_looks_the_same_in_a_widget_and_in_the_dashboard(
    api_server: ApiServer, lifecycle_run: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as client:
        view = RunView.for_run(client, lifecycle_run)
        events = view.events
        paused = next(i for i, e in enumerate(events) if e.type == "run_interrupted" and not e.data.get("ns"))
        # What the kernel answers when the widget selects the interrupt (the page has no kernel):
        # given to the widget before its picture there, so its state pane shows that event's.
        view.selected_seq = events[paused].seq
        at_pause = {"state": view.state, "prev_state": view.prev_state, "state_at": view.state_at}
        view.selected_seq = -1
    types = [(e.type, e.node, (e.data or {}).get("ns")) for e in events]
    retry = next(i for i, e in enumerate(events) if e.type == "node_failed" and e.data.get("will_retry"))
    resumed = next(i for i, e in enumerate(events) if e.type == "run_resumed" and not e.data.get("ns"))
    assert ("run_cancelled", None, None) in types and types[-1][0] == "run_cancelled", types

    # The widget, fed by the kernel's side (traits and the Arrow events).
    state = view.get_state()
    traits = {
        k: state[k] for k in ("topology", "selected_node", "selected_seq", "state", "prev_state", "run")
    }
    traits["message"] = ""
    html = write_widget_page(tmp_path / "widget.html", LIVE_PAGE, STATIC, traits, events_to_arrow(events))
    widget = browser.new_page(viewport={"width": 1100, "height": 1500})
    widget.goto(html.as_uri())
    widget.wait_for_function("() => window.ready === true", timeout=30_000)
    # The dashboard's Run view of the same run.
    context = browser.new_context(viewport={"width": 1360, "height": 1300})
    board = context.new_page()
    errors: list[str] = []
    board.on("pageerror", lambda err: errors.append(str(err)))
    board.goto(
        f"http://127.0.0.1:{api_server.port}/duragraph/ui/?token={api_server.token}#/run/{lifecycle_run}"
    )
    last = f"#{events[-1].seq} run_cancelled ({len(events)}/{len(events)})"
    try:
        for page in (widget, board):
            expect(page.locator(".dg-replay-label")).to_have_text(last, timeout=20_000)
        w_graph, d_graph = widget.locator(".dg-graph"), board.locator("[data-dg-graph] .dg-graph")

        # At the end, collapsed: the retried node done, the subgraph done, the cancelled node
        # cancelled, END never reached.
        end = {
            "__start__": "done",
            "flaky": "done",
            "review": "done",
            "wait": "cancelled",
            "__end__": "pending",
        }
        assert _drawn(w_graph) == _drawn(d_graph) == end
        # Expanded (a click on the subgraph's toggle in each): the inner nodes too.
        for graph in (w_graph, d_graph):
            graph.locator('g[data-node="review"] .dg-toggle').click()
            expect(graph.locator('g[data-cluster="review"]')).to_have_count(1)
        inner_end = {**end, "review:draft": "done", "review:approve": "done", "cluster review": "done"}
        del inner_end["review"]
        assert _drawn(w_graph) == _drawn(d_graph) == inner_end
        widget.screenshot(path=str(ARTIFACTS / "widget-end.png"), full_page=True)
        board.screenshot(path=str(ARTIFACTS / "dashboard-end.png"), full_page=True)

        # Earlier positions, picked on each view's replay slider.
        expected = {
            # flaky's first attempt failed and will be retried: still running.
            retry: {"__start__": "done", "flaky": "running"},
            # The subgraph's approve asks a human: it and the subgraph wait.
            paused: {
                "__start__": "done",
                "flaky": "done",
                "review:draft": "done",
                "review:approve": "interrupted",
                "cluster review": "interrupted",
            },
            # Resumed: the waiting nodes run again.
            resumed: {
                "__start__": "done",
                "flaky": "done",
                "review:draft": "done",
                "review:approve": "running",
                "cluster review": "running",
            },
        }
        for index, want in expected.items():
            for page, root in ((widget, "#root"), (board, "[data-dg-page='run']")):
                _select(page, root, index)
                expect(page.locator(f"{root} .dg-replay-label")).to_contain_text(
                    f"#{events[index].seq} {events[index].type}"
                )
            w, d = _drawn(w_graph), _drawn(d_graph)
            assert w == d, (events[index].type, w, d)
            pending = {n for n in w if n not in want}
            assert {n: w[n] for n in want} == want, (events[index].type, w)
            assert {w[n] for n in pending} <= {"pending"}, (events[index].type, w)
            if index == paused:
                widget.evaluate(
                    "(t) => { for (const [k, v] of Object.entries(t)) window.setTrait(k, v); }", at_pause
                )
                for page, root in ((widget, "#root"), (board, "[data-dg-page='run']")):
                    expect(page.locator(f"{root} [data-dg-replay-caption]")).to_contain_text(
                        f"state after #{events[index].seq} {events[index].type}"
                    )
                widget.screenshot(path=str(ARTIFACTS / "widget-interrupted.png"), full_page=True)
                board.screenshot(path=str(ARTIFACTS / "dashboard-interrupted.png"), full_page=True)
        assert widget.evaluate("() => window.errors") == [] and errors == []
    finally:
        widget.close()
        context.close()
