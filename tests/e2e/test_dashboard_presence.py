"""The standalone dashboard says when nobody serves a graph: a pending run of it tells why it
waits (and stops saying so once a worker takes it), the assistants page marks the assistant.
Chromium via Playwright against a real server and a real worker (this process's, a notebook
kernel's kind) that serves the graph, stops, and serves it again. Screenshots:
test-artifacts/dashboard/presence-*.png."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from duragraph_lab.notebook.session import Session
from tests.apiserver import ApiServer
from tests.e2e.test_dashboard_page import ARTIFACTS, CHROMIUM, Page, browser  # noqa: F401 (fixture)

# The served graph and the kernel-like session are the integration test's.
from tests.integration.test_worker_presence import _graph, session  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")


def test_a_graph_nobody_serves_is_said_on_the_run_and_assistant_pages(
    browser: Any,  # noqa: F811
    api_server: ApiServer,
    session: Session,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    name = f"unserved_{uuid.uuid4().hex[:8]}"
    session.serve({name: _graph()}, lease_ttl=5)
    session.stop_serving()  # registered, served by nobody
    handle = session.run(name, input={"n": 1})
    ui = Page(browser, api_server)
    try:
        # The runs list says it too, on the run's row.
        page = ui.open("#/runs")
        row = page.locator(f"tr[data-run-id='{handle.run_id}']")
        expect(row.locator("[data-dg-waiting='no_worker']")).to_have_text("no worker serves this graph")
        assert name in (row.locator("[data-dg-waiting]").get_attribute("title") or "")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        ui.shot("presence-runs-waiting")
        ui.go(f"#/run/{handle.run_id}?thread_id={handle.thread_id}")
        waiting = page.locator("[data-dg-waiting='no_worker']")
        expect(waiting).to_contain_text(f"no worker is serving graph '{name}'")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        ui.shot("presence-run-waiting")

        # A worker serves the graph: the run starts, and the page stops saying it waits.
        session.serve({name: _graph()}, lease_ttl=5)
        expect(page.locator(".dg-run-meta[data-status='success']")).to_have_count(1, timeout=30_000)
        expect(waiting).to_have_count(0)
        # ... and shows what the run did, to its end: its log to run_completed, the node done.
        rows = page.locator("[data-dg-eventlog] .dg-event-row")
        expect(rows.last).to_contain_text("run_completed", timeout=15_000)
        expect(page.locator("g[data-node='inc']")).to_have_attribute("data-status", "done")
        ui.shot("presence-run-served")

        session.stop_serving()
        ui.go("#/assistants")
        unserved = page.locator("[data-dg-unserved]", has_text=name)
        expect(unserved).to_have_count(1)
        expect(unserved).to_contain_text("no worker")
        expect(page.locator("[data-assistant-id][data-dg-unserved]", has_text="chat")).to_have_count(0)
        unserved.click()
        expect(page.locator("[data-dg-waiting='no_worker']")).to_contain_text(
            f"no worker is serving graph {name}"
        )
        ui.shot("presence-assistant-unserved")
    finally:
        ui.close()
