"""The standalone dashboard page ({base_url}duragraph/ui/) in Debian's chromium, driven by
Playwright, against a real `duragraph-lab serve` with the demo assistants: chat with live node
status and streamed tokens, an approval interrupt, the Run view's replay slider, fork and exports,
the Runs table, and the bad cases (server unreachable, login expired, run deleted while open,
unknown run), with no console error. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.integration.test_dashboard_handler import ensure_dashboard_built

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

# Every status each graph node shows, recorded from the DOM as it changes, and every text the
# streaming bubble is given. The observer is called once per batch of changes: several tokens
# that arrive in one network read (under load) are rendered between two calls, so the texts are
# read from the records, each from the nodes that render added (they are not changed later).
SEEN = """
window.__dgSeen = new Set();
window.__dgStreamed = [];
new MutationObserver((records) => {
  for (const g of document.querySelectorAll("[data-dg-graph] g[data-node]")) window.__dgSeen.add(g.dataset.node + ":" + g.dataset.status);
  for (const r of records) {
    if (r.type !== "childList" || !(r.target instanceof Element) || !r.target.matches("[data-dg-streaming]")) continue;
    for (const n of r.addedNodes) {
      if (!(n instanceof Element) || !n.matches(".dg-msg-body")) continue;
      const text = n.textContent ?? "";
      if (text && window.__dgStreamed[window.__dgStreamed.length - 1] !== text) window.__dgStreamed.push(text);
    }
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-status", "hidden"] });
"""


def starts_a_run(response: Any) -> bool:
    """The page's POST that starts (or resumes) a run and streams it."""
    return bool(response.request.method == "POST" and response.url.endswith("/runs/stream"))


def sse_frames(body: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each frame of a text/event-stream body."""
    out = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields.get("data") or "null")))
    return out


@pytest.fixture(scope="module")
def browser(browser: Any) -> Any:
    """The package's chromium (tests/e2e/conftest.py), once the dashboard is built."""
    ensure_dashboard_built()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return browser


class Page:
    """A logged-in page on the dashboard that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, server: ApiServer, color_scheme: str = "light") -> None:
        self.server = server
        self.context = browser.new_context(
            viewport={"width": 1360, "height": 1000}, accept_downloads=True, color_scheme=color_scheme
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.failed_loads: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.errors.append(f"uncaught: {err}"))
        self.page.add_init_script(SEEN)
        self.root = f"http://127.0.0.1:{server.port}"

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        # The browser logs every HTTP error response ("Failed to load resource: … 403"); the bad
        # cases provoke some on purpose. Anything else is an error of ours.
        if msg.text.startswith("Failed to load resource"):
            self.failed_loads.append(msg.text)
        else:
            self.errors.append(f"{msg.text} @ {msg.location}")

    def open(self, route: str = "") -> Any:
        self.page.goto(f"{self.root}/duragraph/ui/?token={self.server.token}{route}")
        self.page.wait_for_selector("[data-dg-dashboard] [data-dg-page]")
        return self.page

    def go(self, route: str) -> None:
        self.page.evaluate("(h) => { location.hash = h; }", route)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self, *, http_errors_allowed: bool = False) -> None:
        self.context.close()
        assert self.errors == [], self.errors
        if not http_errors_allowed:
            assert self.failed_loads == [], self.failed_loads


@pytest.fixture
def ui(browser: Any, api_server: ApiServer) -> Iterator[Page]:
    page = Page(browser, api_server)
    yield page
    page.close()


@pytest.fixture
def ui_bad(browser: Any, api_server: ApiServer) -> Iterator[Page]:
    """For the bad cases: HTTP errors are expected, uncaught errors still are not."""
    page = Page(browser, api_server)
    yield page
    page.close(http_errors_allowed=True)


def api(server: ApiServer, method: str, route: str, body: Any = None) -> Any:
    status, payload, _ = server.request(method, route, body)
    assert status < 300, (status, payload)
    return payload


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def finished_chat_run(server: ApiServer, text: str) -> tuple[str, str]:
    thread = api(server, "POST", "/threads", {})
    api(
        server,
        "POST",
        f"/threads/{thread['thread_id']}/runs/wait",
        {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": text}]}},
    )
    runs = api(server, "GET", f"/threads/{thread['thread_id']}/runs")
    return thread["thread_id"], runs[0]["run_id"]


def test_playground_chat_lights_nodes_and_streams_the_answer(ui: Page) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=chat")
    expect(page.locator("[data-dg-assistant]")).to_have_value(
        api(ui.server, "GET", "/assistants/chat")["assistant_id"]
    )
    page.wait_for_selector("[data-dg-graph] g[data-node='agent']")
    # No version warning: the bundle and the server are the same version.
    expect(page.locator("[data-dg-version-mismatch]")).to_have_count(0)
    page.fill("[data-dg-chat-input]", "hello from the dashboard")
    with page.expect_response(starts_a_run) as sent:
        page.press("[data-dg-chat-input]", "Enter")
    answer = page.locator("[data-dg-transcript] .dg-msg[data-role='assistant']")
    expect(answer.last).to_contain_text("hello from the dashboard", timeout=20000)
    expect(page.locator("[data-dg-page='playground'][data-dg-last-run]")).to_have_count(1, timeout=10000)
    seen = set(page.evaluate("[...window.__dgSeen]"))
    assert {"agent:running", "agent:done"} <= seen, seen
    # The server streamed the answer token by token (one frame each), and no token was lost.
    tokens = [
        data[0]["content"]
        for event, data in sse_frames(sent.value.body().decode())
        if event == "messages" and data[0].get("type") == "AIMessageChunk"
    ]
    assert len(tokens) >= 2, tokens
    # (the last tokens may reach the page just after the response ends: wait for the whole text)
    expect(answer.last.locator(".dg-msg-body")).to_have_text("".join(tokens).strip(), timeout=15000)
    # The page rendered each token as it came: the streaming bubble grew through the partial
    # texts (however many tokens reached it in one network read), up to the whole answer.
    streamed = page.evaluate("window.__dgStreamed")
    assert len(streamed) >= 2, streamed
    assert all(streamed[i + 1].startswith(streamed[i]) for i in range(len(streamed) - 1)), streamed
    assert streamed[-1] == "".join(tokens), (streamed, tokens)
    expect(page.locator("[data-dg-executions] [data-node='agent'][data-status='done']")).to_have_count(1)
    ui.shot("playground-chat")

    # The same thread, a second message: the conversation goes on.
    page.fill("[data-dg-chat-input]", "second message")
    page.click("[data-action=send]")
    expect(answer.last).to_contain_text("second message", timeout=20000)
    thread_id = page.locator("[data-dg-thread]").input_value()
    values = api(ui.server, "GET", f"/threads/{thread_id}/state")["values"]
    assert [m["content"] for m in values["messages"] if m["type"] == "human"] == [
        "hello from the dashboard",
        "second message",
    ]


def test_approval_interrupt_is_approved_from_the_page(ui: Page) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=approval")
    page.wait_for_selector("[data-dg-graph] g[data-node='review']")
    page.fill("[data-dg-chat-input]", "tell Bob the build is green")
    page.click("[data-action=send]")
    box = page.locator("[data-dg-interrupt]")
    expect(box).to_be_visible(timeout=20000)
    expect(box).to_contain_text("Approve this reply?")
    expect(page.locator("[data-dg-graph] g[data-node='review']")).to_have_attribute(
        "data-status", "interrupted"
    )
    thread_id = page.locator("[data-dg-thread]").input_value()
    assert api(ui.server, "GET", f"/threads/{thread_id}")["status"] == "interrupted"
    ui.shot("playground-interrupt")

    page.click("[data-action=approve]")
    expect(box).to_be_hidden()
    expect(page.locator("[data-dg-graph] g[data-node='publish']")).to_have_attribute(
        "data-status", "done", timeout=20000
    )
    state = wait_until(
        lambda: (s := api(ui.server, "GET", f"/threads/{thread_id}/state"))["values"].get("approved") and s,
        what="the approved state",
    )
    assert state["next"] == []
    assert api(ui.server, "GET", f"/threads/{thread_id}")["status"] == "idle"
    ui.shot("playground-approved")


def test_message_sent_while_the_page_still_loads_keeps_its_thread(ui: Page) -> None:
    """The page's start-up ends by reading the thread list and selecting the thread of the URL
    (none: a new thread). A message sent before that (the graph is drawn first, so a user or a
    test can send) starts a thread; the late selection must not drop it, or the approval after
    the interrupt resumes on a fresh thread: HTTP 409. Held here: the first thread list read
    answers only once the run has started."""
    from playwright.sync_api import expect

    held: list[Any] = []

    def hold_first_list(route: Any) -> None:
        if not held:
            held.append(route)
        else:
            route.continue_()

    ui.page.route("**/duragraph/api/v1/threads/search", hold_first_list)
    page = ui.open("#/playground?assistant=approval")
    page.wait_for_selector("[data-dg-graph] g[data-node='review']")
    deadline = time.monotonic() + 20
    while not held:  # (route handlers run while Playwright is called: not in a time.sleep)
        assert time.monotonic() < deadline, "the page did not read its thread list"
        page.wait_for_timeout(20)
    page.fill("[data-dg-chat-input]", "tell Bob the build is green")
    with page.expect_response(starts_a_run):
        page.click("[data-action=send]")
    thread_id = page.locator("[data-dg-thread]").input_value()
    assert thread_id
    held[0].continue_()
    box = page.locator("[data-dg-interrupt]")
    expect(box).to_be_visible(timeout=20000)
    expect(page.locator("[data-dg-transcript] [data-role='user']")).to_contain_text("tell Bob")

    with page.expect_response(starts_a_run) as resumed:
        page.click("[data-action=approve]")
    assert resumed.value.status == 200, resumed.value.text()
    assert f"/threads/{thread_id}/runs/stream" in resumed.value.url
    expect(page.locator("[data-dg-graph] g[data-node='publish']")).to_have_attribute(
        "data-status", "done", timeout=20000
    )
    wait_until(
        lambda: api(ui.server, "GET", f"/threads/{thread_id}/state")["values"].get("approved"),
        what="the approved state",
    )
    assert len(api(ui.server, "GET", f"/threads/{thread_id}/runs")) == 1


def test_run_view_replay_fork_and_exports(ui: Page) -> None:
    from playwright.sync_api import expect

    thread_id, run_id = finished_chat_run(ui.server, "replay me")
    events = api(ui.server, "GET", f"/runs/{run_id}/events")["events"]
    page = ui.open(f"#/run/{run_id}?thread_id={thread_id}")
    rows = page.locator("[data-dg-eventlog] .dg-event-row")
    expect(rows).to_have_count(len(events), timeout=15000)
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "success")
    label = page.locator("[data-dg-replay-label]")
    expect(label).to_contain_text(f"#{events[-1]['seq']} run_completed ({len(events)}/{len(events)})")
    # The state at the selected event is fetched after the label moves there: wait for it.
    expect(page.locator("[data-dg-state]")).to_contain_text("You said: replay me", timeout=15000)

    # Move the slider to the first event: the state is the input, the graph is back to pending.
    slider = page.locator("[data-dg-replay]")
    slider.focus()
    page.keyboard.press("Home")
    expect(label).to_contain_text(f"#{events[0]['seq']} run_created (1/{len(events)})")
    expect(page.locator("[data-dg-state]")).not_to_contain_text("You said")
    expect(page.locator("[data-dg-graph] g[data-node='agent']")).to_have_attribute("data-status", "pending")
    # One step on: the node is planned, running.
    planned = next(i for i, e in enumerate(events) if e["type"] == "step_planned")
    slider.fill(str(planned))
    expect(label).to_contain_text(f"#{events[planned]['seq']} step_planned")
    expect(page.locator("[data-dg-graph] g[data-node='agent']")).to_have_attribute("data-status", "running")
    expect(
        page.locator(f"[data-dg-eventlog] .dg-event-row.dg-selected[data-seq='{events[planned]['seq']}']")
    ).to_have_count(1)
    # At the end nothing changes any more; at the node's completion, the diff shows the answer
    # it added.
    page.keyboard.press("End")
    expect(page.locator("[data-dg-diff]")).to_have_text("no change")
    answered = next(i for i, e in enumerate(events) if e["type"] == "node_completed")
    slider.fill(str(answered))
    expect(page.locator("[data-dg-diff]")).to_contain_text("You said: replay me")
    expect(page.locator("[data-dg-change-title]")).to_have_text("Change made by agent")
    ui.shot("run-view")

    # The re-execution report: the demo's code has not changed, so the run re-executes identically.
    page.click("[data-action=reexecute]")
    expect(page.locator("[data-dg-report] [data-dg-identical='true']")).to_contain_text(
        "identical: 1 node executions re-executed", timeout=20000
    )

    # Exports: JSON and CSV from the loaded log, Parquet from the server.
    with page.expect_download() as dl:
        page.click("[data-export=json]")
    exported = json.loads(Path(dl.value.path()).read_text())
    assert [e["seq"] for e in exported] == [e["seq"] for e in events]
    with page.expect_download() as dl:
        page.click("[data-export=csv]")
    table = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [int(r["seq"]) for r in table] == [e["seq"] for e in events]
    assert json.loads(table[0]["data"]) == events[0]["data"]
    pq = pytest.importorskip("pyarrow.parquet")
    with page.expect_download() as dl:
        page.click("[data-export=parquet]")
    assert dl.value.suggested_filename == f"run-{run_id}-events.parquet"
    assert pq.read_table(dl.value.path()).column("seq").to_pylist() == [e["seq"] for e in events]

    # Fork after the input event: a new run, opened in the Run view, that answers again.
    slider.focus()
    page.keyboard.press("Home")
    page.click("[data-action=fork]")
    expect(page.locator("[data-dg-fork-dialog]")).to_be_visible()
    page.click("[data-action=fork-confirm]")
    page.wait_for_function(
        f"!location.hash.includes({json.dumps(run_id)}) && location.hash.startsWith('#/run/')"
    )
    forked = page.evaluate("location.hash").split("/")[2].split("?")[0]
    run = wait_until(
        lambda: (r := api(ui.server, "GET", f"/runs/{forked}"))["status"] == "success" and r, what="the fork"
    )
    assert run["thread_id"] == thread_id
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "success", timeout=15000)
    expect(page.locator("[data-dg-eventlog] .dg-event-row").first).to_be_visible()
    ui.shot("run-view-forked")


def test_run_view_follows_a_running_run_live(ui: Page) -> None:
    from playwright.sync_api import expect

    thread = api(ui.server, "POST", "/threads", {})
    run = api(
        ui.server,
        "POST",
        f"/threads/{thread['thread_id']}/runs",
        {"assistant_id": "slow", "input": {"sleep": 0.6}},
    )
    page = ui.open(f"#/run/{run['run_id']}")
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "running", timeout=10000)
    rows = page.locator("[data-dg-eventlog] .dg-event-row")
    first = rows.count()
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "success", timeout=20000)
    events = api(ui.server, "GET", f"/runs/{run['run_id']}/events")["events"]
    expect(rows).to_have_count(len(events), timeout=10000)
    assert first < len(events)
    seen = set(page.evaluate("[...window.__dgSeen]"))
    # The nodes lit up one after the other while the page watched.
    assert {"s1:running", "s1:done", "s3:running", "s4:done"} <= seen, seen
    # Asked for less motion (the suite's chromium is), a node takes its new colour at once: the
    # picture shows the last node done, as the status says, not on its way there.
    last = page.locator("g[data-node='s4'] rect").first
    assert last.evaluate("r => getComputedStyle(r).transitionDuration") == "0s"
    done = page.locator("g[data-node='s0'] rect").first.evaluate("r => getComputedStyle(r).fill")
    assert last.evaluate("r => getComputedStyle(r).fill") == done
    ui.shot("run-view-live")


def test_runs_page_filters_and_cancels(ui: Page) -> None:
    from playwright.sync_api import expect

    _, done_run = finished_chat_run(ui.server, "for the runs table")
    thread = api(ui.server, "POST", "/threads", {})
    slow = api(
        ui.server,
        "POST",
        f"/threads/{thread['thread_id']}/runs",
        {"assistant_id": "slow", "input": {"sleep": 5}},
    )
    page = ui.open("#/runs")
    row = page.locator(f"tr[data-run-id='{slow['run_id']}']")
    expect(row).to_be_visible(timeout=15000)
    expect(page.locator(f"tr[data-run-id='{done_run}']")).to_have_attribute("data-status", "success")
    page.select_option("[data-filter=status]", "success")
    expect(row).to_have_count(0)
    expect(page.locator(f"tr[data-run-id='{done_run}']")).to_be_visible()
    page.select_option("[data-filter=status]", "")
    page.fill("[data-filter=min]", "100000")
    expect(page.locator(f"tr[data-run-id='{done_run}']")).to_have_count(0)
    page.fill("[data-filter=min]", "")
    ui.shot("runs")
    row.locator("[data-action=cancel]").click()
    wait_until(
        lambda: api(ui.server, "GET", f"/runs/{slow['run_id']}")["duragraph_status"] == "cancelled",
        what="the cancel",
    )
    expect(row).to_have_attribute("data-status", "cancelled", timeout=10000)
    # From the table to the Run view.
    page.locator(f"[data-open-run='{done_run}']").click()
    expect(page.locator("[data-dg-page='run']")).to_be_visible()
    assert done_run in page.evaluate("location.hash")


def test_other_pages_show_their_data(ui: Page) -> None:
    from playwright.sync_api import expect

    thread_id, run_id = finished_chat_run(ui.server, "for the other pages")
    page = ui.open("#/assistants")
    expect(page.locator("[data-dg-page='assistants'] [data-dg-graph] g[data-node]").first).to_be_visible()
    page.locator("[data-assistant-id]", has_text="map_reduce").first.click()
    expect(page.locator("[data-dg-graph] g[data-node]").first).to_be_visible()
    ui.shot("assistants")
    ui.go(f"#/threads/{thread_id}")
    expect(page.locator("[data-dg-page='threads'] .dg-detail")).to_contain_text("for the other pages")
    expect(page.locator(f"[data-dg-page='threads'] [data-open-run='{run_id}']")).to_be_visible()
    ui.shot("threads")
    ui.go(f"#/traces/{thread_id}")
    trace = page.locator(f".dg-trace[data-run-id='{run_id}']")
    expect(trace.locator(".dg-span-row[data-node='agent']")).to_have_count(1, timeout=10000)
    ui.shot("traces")


def test_malformed_event_is_reported_and_the_stream_goes_on(ui_bad: Page) -> None:
    """A frame that is not JSON, injected into the real server's stream of a real run."""
    from playwright.sync_api import expect

    def corrupt(route: Any) -> None:
        body = route.fetch().text()
        first = body.index("\n\n") + 2  # after the metadata frame
        bad = "event: values\ndata: {not json\n\n"
        route.fulfill(body=body[:first] + bad + body[first:], content_type="text/event-stream")

    ui = ui_bad
    ui.page.route("**/runs/stream", corrupt)
    page = ui.open("#/playground?assistant=chat")
    page.wait_for_selector("[data-dg-graph] g[data-node='agent']")
    page.fill("[data-dg-chat-input]", "despite the bad frame")
    page.click("[data-action=send]")
    expect(page.locator("[data-dg-transcript] .dg-msg[data-role='assistant']").last).to_contain_text(
        "despite the bad frame", timeout=20000
    )
    notice = page.locator("[data-dg-page='playground'] [data-dg-message='warning']")
    expect(notice).to_contain_text('malformed event "values" (not JSON): {not json')
    ui.shot("bad-malformed-event")


def test_version_mismatch_is_shown(ui: Page) -> None:
    """A front end built for another version (a stale browser cache, a server upgraded alone): the
    page's bundle is served with another version compiled in; the real server answers /info."""
    from playwright.sync_api import expect

    from duragraph_lab._version import __version__

    def older_bundle(route: Any) -> None:
        body = route.fetch().text()
        assert body.count(json.dumps(__version__)) == 1
        route.fulfill(
            body=body.replace(json.dumps(__version__), '"0.0.1-old"'), content_type="text/javascript"
        )

    ui.page.route("**/duragraph/ui/static/dashboard.js*", older_bundle)
    page = ui.open("#/runs")
    banner = page.locator("[data-dg-version-mismatch]")
    expect(banner).to_be_visible(timeout=10000)
    expect(banner).to_contain_text(
        f"version mismatch: this page is DuraGraph Lab 0.0.1-old, the server extension is {__version__}"
    )
    ui.shot("version-mismatch")


def test_threads_page_is_live_while_busy(ui: Page) -> None:
    from playwright.sync_api import expect

    thread = api(ui.server, "POST", "/threads", {})
    run = api(
        ui.server,
        "POST",
        f"/threads/{thread['thread_id']}/runs",
        {"assistant_id": "slow", "input": {"sleep": 0.5}},
    )
    page = ui.open(f"#/threads/{thread['thread_id']}")
    row = page.locator(f"[data-dg-page='threads'] tr[data-run-id='{run['run_id']}'] [data-status]")
    expect(row).to_have_attribute("data-status", re.compile("pending|running"), timeout=10000)
    expect(page.locator("[data-dg-page='threads'] .dg-detail[data-dg-live]")).to_have_count(1)
    # No reload: the page itself picks up the end of the run.
    expect(row).to_have_attribute("data-status", "success", timeout=20000)
    expect(page.locator("[data-dg-page='threads'] .dg-detail[data-dg-live]")).to_have_count(0)


def test_dark_theme(browser: Any, api_server: ApiServer) -> None:
    ui = Page(browser, api_server, color_scheme="dark")
    try:
        page = ui.open("#/assistants")
        page.wait_for_selector("[data-dg-graph] g[data-node]")
        colors = page.evaluate(
            """() => {
              const d = getComputedStyle(document.querySelector(".dg-dashboard"));
              return [d.backgroundColor, d.color];
            }"""
        )
        assert colors == ["rgb(30, 30, 30)", "rgb(224, 224, 224)"], colors
        ui.shot("assistants-dark")
    finally:
        ui.close()


def test_bad_cases_show_specific_messages(ui_bad: Page) -> None:
    from playwright.sync_api import expect

    ui = ui_bad
    page = ui.open("#/runs")
    expect(page.locator("[data-dg-runs]")).to_be_visible()

    # An unknown run.
    ui.go("#/run/00000000-0000-0000-0000-000000000000")
    expect(page.locator("[data-dg-page='run'] [data-dg-message='error']")).to_contain_text(
        "does not exist", timeout=10000
    )

    # A run deleted while open.
    _, run_id = finished_chat_run(ui.server, "delete me")
    ui.go(f"#/run/{run_id}")
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "success", timeout=10000)
    status, _, _ = ui.server.request("DELETE", f"/runs/{run_id}")
    assert status == 204
    expect(page.locator("[data-dg-gone]")).to_contain_text("was deleted while open", timeout=10000)
    expect(page.locator("[data-dg-eventlog] .dg-event-row").first).to_be_visible()  # what was loaded stays
    ui.shot("bad-run-deleted")

    # The server unreachable: every request to it fails at the network level.
    page.route("**/duragraph/api/v1/**", lambda route: route.abort("connectionrefused"))
    ui.go("#/threads")
    expect(page.locator("[data-dg-page='threads'] [data-dg-message='error']")).to_contain_text(
        "cannot reach the DuraGraph server", timeout=10000
    )
    ui.shot("bad-unreachable")
    page.unroute("**/duragraph/api/v1/**")

    # The login expired: the cookie is gone, the API answers 401 (no cookie, no token).
    ui.context.clear_cookies()
    ui.go("#/assistants")
    expect(page.locator("[data-dg-page='assistants'] [data-dg-message='error']")).to_contain_text(
        "expired", timeout=10000
    )
    ui.shot("bad-expired-login")
    # Nothing blank: every page shown says something.
    assert page.locator("[data-dg-page]").inner_text().strip()


VLIST_PAGE = """<!doctype html><html><head><style>{css}</style></head>
<body class="dg-standalone"><div class="dg-dashboard" id="host"></div>
<script>{code}</script></body></html>"""

VLIST_BENCH = """async () => {
  const { VirtualList } = DGV;
  const rows = Array.from({ length: 100000 }, (_, i) => ({ seq: i + 1, type: i % 7 ? "node_completed" : "step_planned" }));
  const list = new VirtualList({
    rowHeight: 24,
    className: "dg-eventlog",
    renderRow: (e) => {
      const el = document.createElement("div");
      el.className = "dg-event-row";
      el.dataset.seq = String(e.seq);
      el.textContent = `#${e.seq} ${e.type} ${JSON.stringify({ node: "n" + (e.seq % 13), step: e.seq })}`;
      return el;
    },
  });
  document.getElementById("host").append(list.element);
  let t0 = performance.now();
  list.setItems(rows);
  const setItemsMs = performance.now() - t0;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  await frame();
  // Scroll through the whole list in 240 jumps, one per frame, and time each frame.
  const el = list.element;
  const gaps = [];
  let maxDom = 0;
  let prev = await frame();
  for (let i = 0; i <= 240; i++) {
    el.scrollTop = (el.scrollHeight - el.clientHeight) * (i / 240);
    el.dispatchEvent(new Event("scroll"));
    const now = await frame();
    gaps.push(now - prev);
    prev = now;
    maxDom = Math.max(maxDom, el.querySelectorAll(".dg-event-row").length);
  }
  await frame();
  const last = [...el.querySelectorAll(".dg-event-row")].map((r) => Number(r.dataset.seq));
  gaps.sort((a, b) => a - b);
  return { setItemsMs, maxDom, p95: gaps[Math.floor(gaps.length * 0.95)], max: gaps[gaps.length - 1], last: Math.max(...last) };
}"""


def test_event_log_of_100000_events_stays_smooth(browser: Any) -> None:
    """The Run view's virtual list with 100,000 rows in the browser: the DOM holds only the rows
    in view, and scrolling through the whole list keeps frames short."""
    import subprocess

    from tests import node

    ext = node.EXTENSION
    node.installed()  # a fresh clone's build ran outside the checkout: esbuild is not here yet
    code = subprocess.run(
        [
            str(ext / "node_modules" / ".bin" / "esbuild"),
            str(ext / "src" / "renderers" / "vlist.ts"),
            "--bundle",
            "--format=iife",
            "--global-name=DGV",
        ],
        env=node.env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    css = (
        Path(__file__).resolve().parents[2] / "duragraph_lab" / "static" / "dashboard" / "dashboard.css"
    ).read_text()
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.set_content(VLIST_PAGE.format(css=css, code=code.replace("</", "<\\/")))
        result = page.evaluate(VLIST_BENCH)
        page.screenshot(path=str(ARTIFACTS / "eventlog-100k.png"))
    finally:
        page.close()
    print(f"100,000-row event log: {result}")
    assert errors == []
    assert result["maxDom"] <= 40, result  # 360 px / 24 px rows + overscan, not 100,000
    assert result["last"] == 100000, result  # the end of the list is reachable
    # Smooth: 95% of the frames while jumping through the list within a few 60 Hz frames
    # (measured: about 21 ms alone; rendering all 100,000 rows takes seconds per frame). The bounds
    # leave room for a browser sharing 2 loaded cores with the suite, not for rendering every row.
    assert result["setItemsMs"] < 250, result
    assert result["p95"] < 250, result
